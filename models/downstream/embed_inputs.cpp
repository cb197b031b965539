#include "models/downstream/embed_inputs.h"

#include <cctype>
#include <filesystem>
#include <memory>

#include "data/gdal/raster_reader.h"
#include "data/layouts.h"
#include "data/normalization.h"
#include "data/shard_dataset.h"
#include "data/shard_source.h"
#include "engine/error.h"

namespace rsd::downstream {

namespace fs = std::filesystem;

namespace {

bool is_geotiff(const fs::path& p) {
  const std::string ext = p.extension().string();
  return fs::is_regular_file(p) && (ext == ".tif" || ext == ".tiff" || ext == ".TIF" || ext == ".TIFF");
}

bool is_shard_dataset(const fs::path& p) {
  if (fs::is_directory(p)) return fs::exists(p / data::kDatasetIndexName);
  return p.filename() == data::kDatasetIndexName || p.extension() == ".rsd";
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// A label as index.csv writes it: class names (joined with '|'), the class of a single-label
// layout, "map" for a class map, "" when unknown.
std::string label_text(const data::Labels& labels, const std::vector<std::string>& classes) {
  if (!labels.names.empty()) return join(labels.names, "|");
  if (labels.class_index >= 0) {
    const auto i = static_cast<size_t>(labels.class_index);
    return i < classes.size() ? classes[i] : std::to_string(labels.class_index);
  }
  return labels.map ? "map" : "";
}

ChipList layout_chips(const std::string& path) {
  auto dataset = std::make_shared<const data::Dataset>(data::discover(path));
  RSD_CHECK(!dataset->samples.empty(), path, ": the dataset holds no samples (", dataset->description, ")");
  ChipList chips;
  chips.description = str_cat("dataset folder: ", dataset->description);
  chips.size = static_cast<int64_t>(dataset->samples.size());
  chips.load = [dataset](int64_t i) { return data::load_sample(dataset->samples.at(static_cast<size_t>(i))); };
  chips.source = [dataset](int64_t i) {
    const data::SampleRef& ref = dataset->samples.at(static_cast<size_t>(i));
    std::vector<std::string> files;
    for (const auto* list : {&ref.s2, &ref.s1})
      for (const data::RasterFile& f : *list) files.push_back(f.path);
    return join(files, ";");
  };
  chips.label = [dataset](const data::Sample& s) { return label_text(s.labels, dataset->classes); };
  return chips;
}

ChipList shard_chips(const std::string& path) {
  auto source = std::make_shared<const data::ShardSource>(path);
  RSD_CHECK(source->size() > 0, path, ": the shard dataset holds no records");
  ChipList chips;
  chips.description =
      str_cat("shard dataset: ", source->size(), " records in ", source->dataset().shard_count(), " shard(s)");
  chips.size = source->size();
  chips.load = [source](int64_t i) {
    data::Sample s;
    source->read(i, s);
    return s;
  };
  const std::string index = source->dataset().path();
  chips.source = [index](int64_t) { return index; };
  chips.label = [](const data::Sample& s) { return label_text(s.labels, {}); };
  return chips;
}

// A band description as rsd names bands: upper case, single-digit S2 bands zero-padded
// ("B1" -> "B01", "b8a" -> "B8A", "vv" -> "VV"); anything else unchanged but for the case.
std::string rsd_band_name(const std::string& description) {
  std::string name;
  for (char ch : description)
    if (!std::isspace(static_cast<unsigned char>(ch)))
      name += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (name.size() == 2 && name[0] == 'B' && std::isdigit(static_cast<unsigned char>(name[1])) != 0) name.insert(1, "0");
  return name;
}

// The first name that occurs twice in `names`, or "".
std::string first_duplicate(const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (names[i] == names[j]) return names[i];
  return "";
}

}  // namespace

void check_raster_band_names(const std::vector<std::string>& given) {
  for (const std::string& name : given)
    RSD_CHECK(!name.empty(), "--raster-bands ", join(given, ","), ": an empty band name; give one name per band of ",
              "the file, in file order (e.g. B02,B03,B04,B08)");
  const std::string twice = first_duplicate(given);
  RSD_CHECK(twice.empty(), "--raster-bands ", join(given, ","), " names ", twice,
            " twice; give each band of the file its own name, in file order (e.g. B02,B03,B04,B08)");
}

std::vector<std::string> geotiff_band_names(const std::string& path, const std::vector<std::string>& given) {
  const data::RasterInfo info = data::raster_info(path);
  if (!given.empty()) {
    check_raster_band_names(given);
    RSD_CHECK(static_cast<int>(given.size()) == info.band_count, path, ": --raster-bands names ", given.size(),
              " band(s) but the file has ", info.band_count);
    return given;
  }
  std::vector<std::string> names;
  for (const std::string& d : info.descriptions) names.push_back(rsd_band_name(d));
  bool named = !names.empty();
  for (const std::string& n : names) named = named && data::band_kind(n) != data::BandKind::other;
  RSD_CHECK(named, path, ": its band descriptions (", join(info.descriptions, ", "),
            ") do not name S1/S2 bands; give them in file order with --raster-bands (e.g. B02,B03,B04,B08)");
  const std::string twice = first_duplicate(names);
  RSD_CHECK(twice.empty(), path, ": its band descriptions (", join(info.descriptions, ", "), ") name ", twice,
            " twice; give the bands in file order with --raster-bands (e.g. B02,B03,B04,B08)");
  return names;
}

namespace {

ChipList geotiff_chips(const std::string& path, const std::vector<std::string>& given) {
  const std::vector<std::string> bands = geotiff_band_names(path, given);
  ChipList chips;
  chips.description = str_cat("one GeoTIFF with bands ", join(bands, ","));
  chips.size = 1;
  chips.load = [path, bands](int64_t) {
    data::Sample s;
    s.id = fs::path(path).stem().string();
    data::Raster r = data::read_raster(path, bands);
    bool s1_only = true;
    for (const std::string& b : bands) s1_only = s1_only && data::band_kind(b) == data::BandKind::s1_db;
    (s1_only ? s.s1 : s.s2) = std::move(r);
    return s;
  };
  chips.source = [path](int64_t) { return path; };
  chips.label = [](const data::Sample&) { return std::string(); };
  return chips;
}

}  // namespace

std::vector<ProtectedInput> protected_inputs(const std::string& input) {
  const fs::path p(input);
  std::error_code ec;
  if (fs::is_directory(p, ec)) return {{input, "the input dataset folder", true}};
  if (p.filename() == data::kDatasetIndexName) {
    const std::string folder = p.has_parent_path() ? p.parent_path().string() : std::string(".");
    return {{input, "the input", false}, {folder, "the input shard dataset's folder", true}};
  }
  return {{input, is_geotiff(p) ? "the input raster" : "the input", false}};
}

ChipList open_chips(const std::string& path, const std::vector<std::string>& raster_bands) {
  const fs::path p(path);
  RSD_CHECK(fs::exists(p), path, ": no such file or folder (give a dataset folder, a shard dataset or a GeoTIFF)");
  if (is_geotiff(p)) return geotiff_chips(path, raster_bands);
  RSD_CHECK(raster_bands.empty(), path, ": --raster-bands applies to a single GeoTIFF input only");
  if (is_shard_dataset(p)) return shard_chips(path);
  return layout_chips(path);
}

}  // namespace rsd::downstream
