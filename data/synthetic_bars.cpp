#include "data/synthetic_bars.h"

#include <vector>

#include "kernels/philox.h"

namespace rsd::data {

namespace {

// Whether pixel (y, x) lies on the bar of class `label` through (cy, cx), 3 pixels either side.
bool on_bar(int label, int y, int x, int cy, int cx) {
  const int dy = y - cy, dx = x - cx;
  const int reach = 3;
  switch (label) {
    case 0: return dy == 0 && dx >= -reach && dx <= reach;
    case 1: return dx == 0 && dy >= -reach && dy <= reach;
    case 2: return dy == dx && dx >= -reach && dx <= reach;
    default: return dy == -dx && dx >= -reach && dx <= reach;
  }
}

}  // namespace

BarsBatch synthetic_bars(int64_t batch_size, int size, int bands, uint64_t seed, uint64_t index, Device device) {
  RSD_CHECK(size >= 8 && bands >= 1 && batch_size >= 1, "synthetic_bars: needs size >= 8, bands >= 1, batch >= 1");
  std::vector<double> pixels(static_cast<size_t>(batch_size * size * size * bands));
  std::vector<int32_t> labels(static_cast<size_t>(batch_size));
  uint64_t counter = index * 1000003ull * static_cast<uint64_t>(batch_size * size * size * bands + 4);
  auto uniform = [&]() { return kernels::philox_uniform_at(seed, 0, counter++, 0.0f, 1.0f); };
  for (int64_t n = 0; n < batch_size; ++n) {
    const int label = static_cast<int>(uniform() * kBarsClasses) % kBarsClasses;
    const int cy = 3 + static_cast<int>(uniform() * static_cast<float>(size - 6));
    const int cx = 3 + static_cast<int>(uniform() * static_cast<float>(size - 6));
    labels[static_cast<size_t>(n)] = label;
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x)
        for (int b = 0; b < bands; ++b) {
          const double gain = 0.5 + 0.5 * static_cast<double>(b + 1) / bands;
          const double signal = on_bar(label, y, x, cy, cx) ? gain : 0.0;
          pixels[static_cast<size_t>(((n * size + y) * size + x) * bands + b)] = signal + 0.3 * (uniform() - 0.5);
        }
  }
  return BarsBatch{Tensor::from_vector(pixels, {batch_size, size, size, bands}, DType::f32, device),
                   Tensor::from_ints(labels, {batch_size}, device)};
}

}  // namespace rsd::data
