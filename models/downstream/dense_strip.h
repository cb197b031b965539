// The blending of dense embeddings (models/downstream/embed_dense.h), one strip of rows at a time.
//
// A tile's feature map (fh, fw, D), of stride s, is upsampled bilinearly to the tile's h x w pixels
// (feature cell j is centred on pixel (j + 0.5) s - 0.5; edges clamp) and added to the pixels it
// covers with the separable window weight blend_weight(ty, h) * blend_weight(tx, w). A pixel's
// blended feature is (sum of w f) / (sum of w).
//
// StripAccumulator holds those sums only for the rows that are not final yet, rows
// [first_row(), end_row()) of the raster, each W pixels wide: (rows, W, D) floats of sum w f,
// (rows, W) floats of sum w and (rows, W) invalid flags. The caller extends it down before adding a
// row of tiles, reads the rows no later tile touches, and releases them. peak_values() is the
// largest (rows x W x D) it has held, the figure embed_dense reports to show the bound.
#pragma once
#include <cstdint>
#include <vector>

namespace rsd::downstream {

// The window weight of index i in a tile of n pixels: sin^2(pi (i + 0.5) / n), in (0, 1].
double blend_weight(int64_t i, int64_t n);

// Bilinear sampling along one axis: pixel i of a tile reads cells lo[i], hi[i], weight a[i] on hi.
struct AxisSampling {
  std::vector<int64_t> lo, hi;
  std::vector<float> a;
};
AxisSampling axis_sampling(int64_t pixels, int64_t cells, int64_t stride);

// The upsampled feature of tile pixel (ty, tx): D floats into out. fmap is (fh, fw, D).
void upsampled_feature(const std::vector<double>& fmap, int64_t fw, int64_t dim, const AxisSampling& sy,
                       const AxisSampling& sx, int64_t ty, int64_t tx, float* out);

class StripAccumulator {
 public:
  StripAccumulator(int64_t width, int64_t dim);

  int64_t first_row() const { return first_row_; }
  int64_t end_row() const { return first_row_ + rows_; }
  int64_t peak_values() const { return peak_values_; }

  // Holds rows up to end (exclusive), the new ones zero.
  void extend_to(int64_t end);
  // Adds a tile's feature map fmap (fh, fw, D) at (y0, x0), upsampled to h x w pixels; the tile's
  // rows must lie in [first_row(), end_row()).
  void add_tile(const std::vector<double>& fmap, int64_t fh, int64_t fw, int64_t stride, int64_t y0, int64_t x0,
                int64_t h, int64_t w);
  // Flags the pixels of a h x w tile at (y0, x0) where invalid (h, w) is nonzero.
  void mark_invalid(const std::vector<uint8_t>& invalid, int64_t y0, int64_t x0, int64_t h, int64_t w);
  // Row y's blended features, (W, D) into features, and its invalid flags (W) into invalid.
  void finished_row(int64_t y, float* features, uint8_t* invalid) const;
  // Forgets the rows above `row`.
  void release_until(int64_t row);

 private:
  int64_t width_, dim_;
  int64_t first_row_ = 0, rows_ = 0, peak_values_ = 0;
  std::vector<float> sum_;        // (rows, W, D): sum of w f
  std::vector<float> weight_;     // (rows, W): sum of w
  std::vector<uint8_t> invalid_;  // (rows, W): 1 where any band of the input is invalid
};

}  // namespace rsd::downstream
