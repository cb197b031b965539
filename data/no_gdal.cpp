// Without GDAL (the GPU machine has none) the GeoTIFF readers and sample loading exist but say so:
// shards still train, and callers link either way.
#include "data/gdal/raster_reader.h"
#include "data/layouts.h"
#include "engine/error.h"

#if !RSD_HAVE_GDAL

namespace rsd::data {
namespace {

[[noreturn]] void no_gdal(const std::string& what) {
  fail(what, ": rsd was built without GDAL, so GeoTIFFs cannot be read here (install libgdal-dev and rebuild, "
       "or pack the dataset into shards on a machine with GDAL)");
}

}  // namespace

RasterInfo raster_info(const std::string& path) { no_gdal(path); }
std::string format_raster_info(const RasterInfo& info) { no_gdal(info.path); }
Raster read_raster(const std::string& path, const std::vector<std::string>&, const std::optional<Window>&) {
  no_gdal(path);
}
Raster read_raster(const RasterFile& file, const std::optional<Window>&) { no_gdal(file.path); }
Raster read_stack(const std::vector<RasterFile>& files, const std::optional<Window>&) {
  no_gdal(files.empty() ? std::string("read_stack") : files[0].path);
}
bool same_crs(const std::string& wkt_a, const std::string& wkt_b) { return wkt_a == wkt_b; }
std::string footprint_difference(const Raster& a, const Raster&, double) { no_gdal(a.source); }
Sample load_sample(const SampleRef& ref) { no_gdal(ref.id); }

}  // namespace rsd::data

#endif  // !RSD_HAVE_GDAL
