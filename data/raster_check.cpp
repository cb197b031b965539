#include "data/raster_check.h"

#include <algorithm>
#include <set>

#include "engine/error.h"

namespace rsd::data {

std::string describe(const Raster& raster) {
  std::string bands;
  for (const std::string& b : raster.bands) bands += (bands.empty() ? "" : ", ") + b;
  return str_cat(raster.height, "x", raster.width, " (", bands, ") from ",
                 raster.source.empty() ? std::string("<memory>") : raster.source);
}

void check_raster(const Raster& raster, const std::string& what) {
  RSD_CHECK(raster.height >= 0 && raster.width >= 0, what, ": negative size in raster ", describe(raster));
  const size_t expected = static_cast<size_t>(raster.height * raster.width * raster.channels());
  RSD_CHECK(raster.pixels.size() == expected, what, ": raster ", describe(raster), " holds ", raster.pixels.size(),
            " pixel values, expected height * width * bands = ", expected);
  RSD_CHECK(raster.valid.size() == expected, what, ": raster ", describe(raster), " has a validity mask of ",
            raster.valid.size(), " values, expected ", expected);
  std::set<std::string> seen;
  for (const std::string& b : raster.bands)
    RSD_CHECK(seen.insert(b).second, what, ": band ", b, " appears twice in raster ", describe(raster));
}

int64_t count_invalid(const Raster& raster) {
  return static_cast<int64_t>(std::count(raster.valid.begin(), raster.valid.end(), uint8_t{0}));
}

}  // namespace rsd::data
