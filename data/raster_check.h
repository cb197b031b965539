// Consistency checks of a Raster handed to a data function (normalization, views, ...).
#pragma once
#include <string>

#include "data/sample.h"

namespace rsd::data {

// pixels and valid hold height * width * channels values, sizes are not negative, no band name
// appears twice. Otherwise an rsd::Error naming `what` (the caller) and the raster's source.
void check_raster(const Raster& raster, const std::string& what);

// Counts the zeros of raster.valid.
int64_t count_invalid(const Raster& raster);

// "64x64 (VV, VH) from s1.tif": for error messages.
std::string describe(const Raster& raster);

}  // namespace rsd::data
