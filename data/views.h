// Views: the seeded augmentations that turn one Sample into the inputs of a self-supervised method.
//
// Every random choice comes from Philox4x32-10 (kernels/philox.h) keyed by the seed, with a counter
// made of (sample index, view index, purpose, draw number): a view is a pure function of
// (sample, spec, seed, index), whatever thread makes it and in whatever order. Separate purposes
// (band choice, geometry, photometry) have separate streams, so switching photometry on or off
// leaves a view's crop and bands unchanged.
//
// Views expect normalized rasters (data/normalization.h): invalid pixels hold 0, the band mean. They
// stay marked invalid and hold 0 after every step here; bilinear resampling averages valid taps only.
//
// Geometry, in this order: a crop window of the input (none, random of a fixed size, or random
// resized as torchvision's RandomResizedCrop draws it), resampled to the output size (bilinear for
// pixels with pixel centres aligned, i.e. align_corners = false, taps clamped to the window; nearest
// for the validity mask and for label maps), then a horizontal flip, a vertical flip, and k
// quarter turns counter-clockwise (numpy.rot90's sense). Satellite images have no canonical "up",
// so vertical flips and rotations are label-preserving.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/sample.h"
#include "kernels/philox.h"

namespace rsd::data {

// Draws for one (seed, sample index, stream); stream = 4 * view + purpose in make_views.
class ViewRandom {
 public:
  ViewRandom(uint64_t seed, uint64_t index, uint32_t stream) : seed_(seed), index_(index), stream_(stream) {}
  uint32_t bits();
  double uniform();                        // [0, 1), 32 random bits
  double uniform(double lo, double hi);    // [lo, hi)
  int64_t below(int64_t n);                // uniform integer in [0, n), n >= 1
  bool bernoulli(double p);                // true with probability p

 private:
  uint64_t seed_, index_;
  uint32_t stream_;
  uint32_t block_ = 0;
  kernels::Philox4 current_{};
  int lane_ = 4;
};

// ---- geometry ----

enum class CropMode { none, random, random_resized };

struct GeometricSpec {
  CropMode crop = CropMode::random_resized;
  int64_t crop_height = 0, crop_width = 0;        // CropMode::random: the window (must fit the image)
  double scale_min = 0.2, scale_max = 1.0;        // random_resized: window area / image area
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;  // random_resized: window width / height
  int64_t out_height = 0, out_width = 0;          // random_resized: output size; 0: the input's
  double p_flip_h = 0.5, p_flip_v = 0.5;
  bool rotate90 = true;  // k uniform in {0, 1, 2, 3}; in {0, 2} when the output is not square, so
                         // that every view of one spec has the same size
};

// One drawn geometry, for rasters of in_height x in_width: drawn once, it may be applied to
// several rasters of that size (S1 and S2 of a pair, a label map) and keeps them aligned.
struct GeometricTransform {
  int64_t in_height = 0, in_width = 0;
  int64_t crop_y = 0, crop_x = 0, crop_height = 0, crop_width = 0;  // window in the input
  int64_t out_height = 0, out_width = 0;  // size the window is resampled to (before rotation)
  bool flip_h = false, flip_v = false;
  int rot90 = 0;                          // quarter turns counter-clockwise, 0..3

  // The identity for a raster of this size.
  static GeometricTransform identity(int64_t height, int64_t width);
  // Size of the result: (out_height, out_width), swapped for odd rot90.
  int64_t result_height() const { return rot90 % 2 ? out_width : out_height; }
  int64_t result_width() const { return rot90 % 2 ? out_height : out_width; }
};

// Draws a transform for an image of height x width. A CropMode::random window larger than the
// image, or a spec out of range, is an rsd::Error giving the sizes.
GeometricTransform draw_geometric(const GeometricSpec& spec, int64_t height, int64_t width, ViewRandom& rng);

enum class Resampling { bilinear, nearest };

// Applies `t` to a raster of t's input size (another size is an rsd::Error naming both). Pixels
// with `resampling`, the validity mask always nearest. The geotransform follows the pixels
// (crop, scale, flips and rotation composed into the affine), so the view stays georeferenced.
Raster apply_geometric(const GeometricTransform& t, const Raster& raster, Resampling resampling = Resampling::bilinear);

// S1, S2 and the label map of one sample through the same transform: S1/S2 bilinear, the label
// map nearest. The rasters present must share one grid of t's input size; otherwise an rsd::Error
// names the sample, the rasters and their sizes.
struct AlignedRasters {
  std::optional<Raster> s1, s2, label_map;
};
AlignedRasters apply_aligned(const GeometricTransform& t, const Sample& sample);

// ---- RS-BYOL band sampling ----

enum class BandMode { all, single, three };

// The pool RS-BYOL samples from: B02 B03 B04 B05 B06 B07 B08 B8A B11 B12, then VV VH with SAR.
const std::vector<std::string>& rs_byol_pool(bool include_sar);

struct BandSampling {
  BandMode mode = BandMode::single;
  bool include_sar = true;  // ms+sar (true) or ms-only (false)
};

// The bands of one view, in the order drawn: one band (single), three distinct bands (three),
// uniformly from the pool. The two views of a pair draw independently, as RS-BYOL does: both may
// hold the same band (probability 1/12 in single mode with SAR).
std::vector<std::string> draw_bands(const BandSampling& sampling, ViewRandom& rng);

// A raster of `bands` (in that order) taken from the sample's S2 and S1 rasters by name. A band
// found in neither, or S1 and S2 on different grids when both are needed, is an rsd::Error naming
// the sample.
Raster select_bands(const Sample& sample, const std::vector<std::string>& bands);

// ---- photometric augmentations for multispectral data (no RGB colour-space operation) ----

struct PhotometricSpec {
  double p_jitter = 0.0;       // probability of the per-band brightness/contrast jitter
  double brightness = 0.4;     // per band: add U(-brightness, brightness), in standardized units
  double contrast = 0.4;       // per band: scale about the band's view mean by U(1 - c, 1 + c)
  double p_blur = 0.0;         // probability of a Gaussian blur, sigma ~ U(sigma_min, sigma_max) px
  double blur_sigma_min = 0.1, blur_sigma_max = 2.0;
  double p_band_dropout = 0.0; // each band zeroed (set to its mean) with this probability
};

// Separable Gaussian blur of every band, kernel radius ceil(3 sigma), borders mirrored
// (half-sample symmetric, repeated for radii past the image): a constant image is unchanged and
// each band's mean over the image is preserved. Invalid pixels are set back to 0.
void gaussian_blur(Raster& raster, double sigma);

// Per band c, over valid pixels: x -> (x - mean_c) * contrast_c + mean_c + brightness_c.
void jitter_brightness_contrast(Raster& raster, const PhotometricSpec& spec, ViewRandom& rng);

// Zeroes each band with probability p (the validity mask is kept: dropout is an augmentation, not
// missing data). When every band is drawn, one band drawn uniformly is kept, so a view is never
// empty. Returns the number of bands zeroed.
int64_t band_dropout(Raster& raster, double p, ViewRandom& rng);

// Jitter (with probability p_jitter), blur (p_blur), band dropout, in that order.
void apply_photometric(Raster& raster, const PhotometricSpec& spec, ViewRandom& rng);

// ---- per-method view recipes ----

enum class ViewMethod { byol_single, byol_three, simclr_ms, dual_encoder };

// Defaults, set by the factory functions (a default-constructed ViewSpec is simclr_ms's geometry
// without any photometry; start from a factory):
//   byol_single / byol_three: each view samples its bands (one / three, ms+sar unless told
//     ms-only), then its own geometry: random resized crop, scale [0.5, 1], ratio [3/4, 4/3], the
//     input size, flips p = 0.5, rotations; no photometry (the bands are the augmentation).
//   simclr_ms: both views hold every S2 band; each its own random resized crop, scale [0.2, 1],
//     flips, rotations; jitter p = 0.8 (brightness 0.4, contrast 0.4), blur p = 0.5 (sigma
//     0.1 .. 2 px), band dropout p = 0.2.
//   dual_encoder: view 0 is S1 (all its bands), view 1 is S2 (all its bands), one geometry drawn
//     once and applied to both (aligned): random resized crop scale [0.5, 1], flips, rotations;
//     no band sampling, no photometry.
struct ViewSpec {
  ViewMethod method = ViewMethod::simclr_ms;
  GeometricSpec geometric;
  bool aligned = false;        // one geometry for both views (else one per view)
  BandSampling bands;          // byol_* only
  PhotometricSpec photometric;

  static ViewSpec byol_single(bool include_sar = true);
  static ViewSpec byol_three(bool include_sar = true);
  static ViewSpec simclr_ms();
  static ViewSpec dual_encoder();
};

const char* view_method_name(ViewMethod method);

// The two views of sample `index` for `seed`: a pure function of its arguments. Each view is a
// Raster whose band list says what it holds. dual_encoder: views[0] is S1, views[1] is S2.
std::vector<Raster> make_views(const Sample& sample, const ViewSpec& spec, uint64_t seed, uint64_t index);

}  // namespace rsd::data
