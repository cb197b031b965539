// In-memory rasters for the data tests.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "data/sample.h"

namespace rsd::test {

// A raster of `bands`, every pixel valid, value f(y, x, c); `source` names it in error messages.
inline data::Raster make_raster(const std::vector<std::string>& bands, int64_t height, int64_t width,
                                const std::function<float(int64_t, int64_t, int64_t)>& f,
                                const std::string& source = "memory.tif") {
  data::Raster r;
  r.bands = bands;
  r.height = height;
  r.width = width;
  r.source = source;
  const int64_t c = r.channels();
  r.pixels.resize(static_cast<size_t>(height * width * c));
  r.valid.assign(r.pixels.size(), 1);
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (int64_t b = 0; b < c; ++b) r.pixels[static_cast<size_t>((y * width + x) * c + b)] = f(y, x, b);
  return r;
}

}  // namespace rsd::test
