#include "data/views.h"

#include <algorithm>
#include <cmath>

#include "data/raster_check.h"
#include "engine/error.h"

namespace rsd::data {

namespace {

// A view's random streams: one per purpose, so that one purpose's settings never shift another's
// draws. The geometry shared by the two views of an aligned pair has a view number of its own.
constexpr uint32_t kBandsPurpose = 0, kGeometryPurpose = 1, kPhotometryPurpose = 2;
constexpr uint32_t kSharedView = 0x3FFFFFFFu;

uint32_t stream_of(uint32_t view, uint32_t purpose) { return view * 4u + purpose; }

// (col, row) = M (u, v) + b, in continuous pixel coordinates (pixel centres at +0.5).
struct Affine {
  double m00 = 1, m01 = 0, m10 = 0, m11 = 1, b0 = 0, b1 = 0;
};

// outer(inner(x)).
Affine compose(const Affine& outer, const Affine& inner) {
  Affine r;
  r.m00 = outer.m00 * inner.m00 + outer.m01 * inner.m10;
  r.m01 = outer.m00 * inner.m01 + outer.m01 * inner.m11;
  r.m10 = outer.m10 * inner.m00 + outer.m11 * inner.m10;
  r.m11 = outer.m10 * inner.m01 + outer.m11 * inner.m11;
  r.b0 = outer.m00 * inner.b0 + outer.m01 * inner.b1 + outer.b0;
  r.b1 = outer.m10 * inner.b0 + outer.m11 * inner.b1 + outer.b1;
  return r;
}

// Maps a point of the result of `t` to the point of its input it was taken from.
Affine result_to_input(const GeometricTransform& t) {
  const double h = static_cast<double>(t.out_height), w = static_cast<double>(t.out_width);
  Affine rotate;  // result -> flipped (out_height x out_width)
  switch (t.rot90) {
    case 1: rotate = {0, -1, 1, 0, w, 0}; break;
    case 2: rotate = {-1, 0, 0, -1, w, h}; break;
    case 3: rotate = {0, 1, -1, 0, 0, h}; break;
    default: break;
  }
  const Affine flip{t.flip_h ? -1.0 : 1.0, 0, 0, t.flip_v ? -1.0 : 1.0, t.flip_h ? w : 0.0, t.flip_v ? h : 0.0};
  const Affine scale{static_cast<double>(t.crop_width) / w, 0, 0, static_cast<double>(t.crop_height) / h,
                     static_cast<double>(t.crop_x), static_cast<double>(t.crop_y)};
  return compose(scale, compose(flip, rotate));
}

// The geotransform of the result: the input's applied after result_to_input.
std::array<double, 6> transformed_geotransform(const std::array<double, 6>& gt, const GeometricTransform& t) {
  const Affine a = result_to_input(t);
  return {gt[0] + a.b0 * gt[1] + a.b1 * gt[2], a.m00 * gt[1] + a.m10 * gt[2], a.m01 * gt[1] + a.m11 * gt[2],
          gt[3] + a.b0 * gt[4] + a.b1 * gt[5], a.m00 * gt[4] + a.m10 * gt[5], a.m01 * gt[4] + a.m11 * gt[5]};
}

// The input taps of one output row (or column) of a window resampled from `length` to `out`
// samples: value = (1 - w1) * in[t0] + w1 * in[t1]. `nearest` is the heavier of the two taps, so
// nearest resampling picks round(source coordinate) and always a tap bilinear weighs positively.
struct Taps {
  int64_t t0 = 0, t1 = 0, nearest = 0;
  double w1 = 0;
};

std::vector<Taps> make_taps(int64_t start, int64_t length, int64_t out) {
  std::vector<Taps> taps(static_cast<size_t>(out));
  const double scale = static_cast<double>(length) / static_cast<double>(out);
  for (int64_t d = 0; d < out; ++d) {
    Taps& t = taps[static_cast<size_t>(d)];
    if (length == out) {
      t.t0 = t.t1 = t.nearest = start + d;
      continue;
    }
    const double s = std::clamp((static_cast<double>(d) + 0.5) * scale - 0.5, 0.0, static_cast<double>(length - 1));
    const int64_t f = static_cast<int64_t>(std::floor(s));
    t.t0 = start + f;
    t.t1 = start + std::min(f + 1, length - 1);
    t.w1 = s - static_cast<double>(f);
    t.nearest = t.w1 >= 0.5 ? t.t1 : t.t0;
  }
  return taps;
}

// The (row, col) of the resampled window that result pixel (i, j) shows.
void result_to_window(const GeometricTransform& t, int64_t i, int64_t j, int64_t* row, int64_t* col) {
  const int64_t h = t.out_height, w = t.out_width;
  int64_t r = i, c = j;
  switch (t.rot90) {
    case 1: r = j; c = w - 1 - i; break;
    case 2: r = h - 1 - i; c = w - 1 - j; break;
    case 3: r = h - 1 - j; c = i; break;
    default: break;
  }
  *row = t.flip_v ? h - 1 - r : r;
  *col = t.flip_h ? w - 1 - c : c;
}

void check_transform(const GeometricTransform& t, const Raster& raster) {
  RSD_CHECK(t.crop_height >= 1 && t.crop_width >= 1 && t.crop_y >= 0 && t.crop_x >= 0 &&
                t.crop_y + t.crop_height <= t.in_height && t.crop_x + t.crop_width <= t.in_width &&
                t.out_height >= 1 && t.out_width >= 1 && t.rot90 >= 0 && t.rot90 <= 3,
            "apply_geometric: invalid transform: window ", t.crop_height, "x", t.crop_width, " at (", t.crop_y, ", ",
            t.crop_x, ") of ", t.in_height, "x", t.in_width, ", output ", t.out_height, "x", t.out_width, ", rot90 ",
            t.rot90);
  RSD_CHECK(raster.height == t.in_height && raster.width == t.in_width, "apply_geometric: transform drawn for ",
            t.in_height, "x", t.in_width, " applied to raster ", describe(raster));
}

// Writes result pixel `o` (all channels) from the window taps (ty, tx) of `in`. The value of a
// channel is the weighted mean of its valid taps; the pixel is invalid where its nearest tap is.
void sample_pixel(const Raster& in, const Taps& ty, const Taps& tx, Resampling resampling, float* out_pixel,
                  uint8_t* out_valid) {
  const int64_t channels = in.channels();
  auto base = [&](int64_t y, int64_t x) { return static_cast<size_t>((y * in.width + x) * channels); };
  const size_t nearest = base(ty.nearest, tx.nearest);
  if (resampling == Resampling::nearest) {
    for (int64_t c = 0; c < channels; ++c) {
      out_valid[c] = in.valid[nearest + static_cast<size_t>(c)];
      out_pixel[c] = out_valid[c] ? in.pixels[nearest + static_cast<size_t>(c)] : 0.0f;
    }
    return;
  }
  const size_t tap[4] = {base(ty.t0, tx.t0), base(ty.t0, tx.t1), base(ty.t1, tx.t0), base(ty.t1, tx.t1)};
  const double weight[4] = {(1.0 - ty.w1) * (1.0 - tx.w1), (1.0 - ty.w1) * tx.w1, ty.w1 * (1.0 - tx.w1), ty.w1 * tx.w1};
  for (int64_t c = 0; c < channels; ++c) {
    const size_t ch = static_cast<size_t>(c);
    out_valid[c] = in.valid[nearest + ch];
    if (!out_valid[c]) {
      out_pixel[c] = 0.0f;
      continue;
    }
    double sum = 0, total = 0;  // total > 0: the nearest tap is valid and weighs at least 1/4
    for (int k = 0; k < 4; ++k)
      if (in.valid[tap[k] + ch]) {
        sum += weight[k] * static_cast<double>(in.pixels[tap[k] + ch]);
        total += weight[k];
      }
    out_pixel[c] = static_cast<float>(sum / total);
  }
}

// Index i of a signal of length n extended by half-sample symmetric mirroring, repeated.
int64_t mirror(int64_t i, int64_t n) {
  const int64_t period = 2 * n;
  int64_t m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

// One pass of a 1-D kernel along rows (along_x) or columns of every band. The taps of position p
// are mirrored[p .. p + 2 radius]; the inner loop runs over the contiguous channels.
void convolve_pass(const Raster& in, Raster& out, const std::vector<double>& kernel, bool along_x) {
  const int64_t radius = static_cast<int64_t>(kernel.size() / 2), channels = in.channels();
  const int64_t length = along_x ? in.width : in.height;
  std::vector<int64_t> mirrored(static_cast<size_t>(length + 2 * radius));
  for (int64_t p = 0; p < length + 2 * radius; ++p) mirrored[static_cast<size_t>(p)] = mirror(p - radius, length);
  const std::vector<float> weights(kernel.begin(), kernel.end());  // float: a few taps, error ~1e-7
  for (int64_t y = 0; y < in.height; ++y)
    for (int64_t x = 0; x < in.width; ++x) {
      float* dst = &out.pixels[static_cast<size_t>((y * in.width + x) * channels)];
      std::fill(dst, dst + channels, 0.0f);
      const int64_t p = along_x ? x : y;
      for (size_t k = 0; k < weights.size(); ++k) {
        const int64_t q = mirrored[static_cast<size_t>(p) + k];
        const float* src = &in.pixels[static_cast<size_t>(((along_x ? y : q) * in.width + (along_x ? q : x)) * channels)];
        for (int64_t c = 0; c < channels; ++c) dst[c] += weights[k] * src[c];
      }
    }
}

void zero_invalid(Raster& raster) {
  for (size_t i = 0; i < raster.pixels.size(); ++i)
    if (!raster.valid[i]) raster.pixels[i] = 0.0f;
}

void draw_random_crop(const GeometricSpec& spec, GeometricTransform& t, ViewRandom& rng) {
  RSD_CHECK(spec.crop_height >= 1 && spec.crop_width >= 1, "draw_geometric: a random crop needs crop_height and ",
            "crop_width >= 1, got ", spec.crop_height, "x", spec.crop_width);
  RSD_CHECK(spec.crop_height <= t.in_height && spec.crop_width <= t.in_width, "draw_geometric: random crop ",
            spec.crop_height, "x", spec.crop_width, " is larger than the ", t.in_height, "x", t.in_width, " image");
  t.crop_height = t.out_height = spec.crop_height;
  t.crop_width = t.out_width = spec.crop_width;
  t.crop_y = rng.below(t.in_height - spec.crop_height + 1);
  t.crop_x = rng.below(t.in_width - spec.crop_width + 1);
}

// torchvision's RandomResizedCrop draw: ten tries of an area fraction and a log-uniform aspect
// ratio, then the whole image cut to the nearest allowed ratio, centred.
void draw_resized_crop(const GeometricSpec& spec, GeometricTransform& t, ViewRandom& rng) {
  RSD_CHECK(spec.scale_min > 0 && spec.scale_min <= spec.scale_max && spec.scale_max <= 1 && spec.ratio_min > 0 &&
                spec.ratio_min <= spec.ratio_max && spec.out_height >= 0 && spec.out_width >= 0,
            "draw_geometric: random resized crop needs 0 < scale_min <= scale_max <= 1 and 0 < ratio_min <= ",
            "ratio_max, got scale [", spec.scale_min, ", ", spec.scale_max, "], ratio [", spec.ratio_min, ", ",
            spec.ratio_max, "], output ", spec.out_height, "x", spec.out_width);
  const int64_t H = t.in_height, W = t.in_width;
  t.out_height = spec.out_height > 0 ? spec.out_height : H;
  t.out_width = spec.out_width > 0 ? spec.out_width : W;
  const double area = static_cast<double>(H * W);
  const double log_lo = std::log(spec.ratio_min), log_hi = std::log(spec.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(spec.scale_min, spec.scale_max);
    const double ratio = std::exp(rng.uniform(log_lo, log_hi));
    const int64_t w = std::llround(std::sqrt(target * ratio)), h = std::llround(std::sqrt(target / ratio));
    if (w < 1 || w > W || h < 1 || h > H) continue;
    t.crop_height = h;
    t.crop_width = w;
    t.crop_y = rng.below(H - h + 1);
    t.crop_x = rng.below(W - w + 1);
    return;
  }
  const double in_ratio = static_cast<double>(W) / static_cast<double>(H);
  int64_t h = H, w = W;
  if (in_ratio < spec.ratio_min) h = std::clamp<int64_t>(std::llround(static_cast<double>(W) / spec.ratio_min), 1, H);
  if (in_ratio > spec.ratio_max) w = std::clamp<int64_t>(std::llround(static_cast<double>(H) * spec.ratio_max), 1, W);
  t.crop_height = h;
  t.crop_width = w;
  t.crop_y = (H - h) / 2;
  t.crop_x = (W - w) / 2;
}

std::string grid_mismatch(const char* what, const Sample& sample, const Raster& a, const char* a_name,
                          const Raster& b, const char* b_name) {
  return str_cat(what, ": sample ", sample.id, ": ", a_name, " ", describe(a), " and ", b_name, " ", describe(b),
                 " are not on one grid (sizes differ)");
}

}  // namespace

// ---- ViewRandom ----

uint32_t ViewRandom::bits() {
  if (lane_ == 4) {
    const kernels::Philox4 counter{
        {block_, stream_, static_cast<uint32_t>(index_), static_cast<uint32_t>(index_ >> 32)}};
    current_ = kernels::philox4x32_10(counter, static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32));
    ++block_;
    lane_ = 0;
  }
  return current_.v[lane_++];
}

double ViewRandom::uniform() { return static_cast<double>(bits()) * (1.0 / 4294967296.0); }

double ViewRandom::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int64_t ViewRandom::below(int64_t n) {
  RSD_CHECK(n >= 1 && n <= (int64_t{1} << 32), "ViewRandom::below: n = ", n, " out of [1, 2^32]");
  return static_cast<int64_t>((static_cast<uint64_t>(bits()) * static_cast<uint64_t>(n)) >> 32);
}

bool ViewRandom::bernoulli(double p) { return uniform() < p; }

// ---- geometry ----

GeometricTransform GeometricTransform::identity(int64_t height, int64_t width) {
  GeometricTransform t;
  t.in_height = t.crop_height = t.out_height = height;
  t.in_width = t.crop_width = t.out_width = width;
  return t;
}

GeometricTransform draw_geometric(const GeometricSpec& spec, int64_t height, int64_t width, ViewRandom& rng) {
  RSD_CHECK(height >= 1 && width >= 1, "draw_geometric: empty image ", height, "x", width);
  GeometricTransform t = GeometricTransform::identity(height, width);
  if (spec.crop == CropMode::random) draw_random_crop(spec, t, rng);
  if (spec.crop == CropMode::random_resized) draw_resized_crop(spec, t, rng);
  t.flip_h = rng.bernoulli(spec.p_flip_h);
  t.flip_v = rng.bernoulli(spec.p_flip_v);
  if (spec.rotate90)
    t.rot90 = static_cast<int>(t.out_height == t.out_width ? rng.below(4) : 2 * rng.below(2));
  return t;
}

Raster apply_geometric(const GeometricTransform& t, const Raster& raster, Resampling resampling) {
  check_raster(raster, "apply_geometric");
  check_transform(t, raster);
  Raster out;
  out.bands = raster.bands;
  out.height = t.result_height();
  out.width = t.result_width();
  out.geo = raster.geo;
  if (raster.geo.has_geotransform) out.geo.geotransform = transformed_geotransform(raster.geo.geotransform, t);
  out.source = raster.source;
  out.source_dtype = raster.source_dtype;
  const int64_t channels = raster.channels();
  out.pixels.assign(static_cast<size_t>(out.height * out.width * channels), 0.0f);
  out.valid.assign(out.pixels.size(), 0);
  const std::vector<Taps> rows = make_taps(t.crop_y, t.crop_height, t.out_height);
  const std::vector<Taps> cols = make_taps(t.crop_x, t.crop_width, t.out_width);
  for (int64_t i = 0; i < out.height; ++i)
    for (int64_t j = 0; j < out.width; ++j) {
      int64_t r = 0, c = 0;
      result_to_window(t, i, j, &r, &c);
      const size_t o = static_cast<size_t>((i * out.width + j) * channels);
      sample_pixel(raster, rows[static_cast<size_t>(r)], cols[static_cast<size_t>(c)], resampling, &out.pixels[o],
                   &out.valid[o]);
    }
  out.invalid_count = count_invalid(out);
  return out;
}

AlignedRasters apply_aligned(const GeometricTransform& t, const Sample& sample) {
  const Raster* label = sample.labels.map ? &*sample.labels.map : nullptr;
  const Raster* s1 = sample.s1 ? &*sample.s1 : nullptr;
  const Raster* s2 = sample.s2 ? &*sample.s2 : nullptr;
  if (s1 && s2)
    RSD_CHECK(s1->height == s2->height && s1->width == s2->width, grid_mismatch("apply_aligned", sample, *s1, "S1", *s2, "S2"));
  const Raster* image = s2 ? s2 : s1;
  if (image && label)
    RSD_CHECK(image->height == label->height && image->width == label->width,
              grid_mismatch("apply_aligned", sample, *image, s2 ? "S2" : "S1", *label, "label map"));
  AlignedRasters out;
  if (s1) out.s1 = apply_geometric(t, *s1, Resampling::bilinear);
  if (s2) out.s2 = apply_geometric(t, *s2, Resampling::bilinear);
  if (label) out.label_map = apply_geometric(t, *label, Resampling::nearest);
  return out;
}

// ---- band sampling ----

const std::vector<std::string>& rs_byol_pool(bool include_sar) {
  static const std::vector<std::string> ms = {"B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"};
  static const std::vector<std::string> ms_sar = [] {
    std::vector<std::string> all = ms;
    all.push_back("VV");
    all.push_back("VH");
    return all;
  }();
  return include_sar ? ms_sar : ms;
}

std::vector<std::string> draw_bands(const BandSampling& sampling, ViewRandom& rng) {
  std::vector<std::string> pool = rs_byol_pool(sampling.include_sar);
  if (sampling.mode == BandMode::all) return pool;
  const size_t wanted = sampling.mode == BandMode::single ? 1 : 3;
  // Partial Fisher-Yates: `wanted` distinct bands, each ordered draw equally likely.
  for (size_t i = 0; i < wanted; ++i) {
    const size_t j = i + static_cast<size_t>(rng.below(static_cast<int64_t>(pool.size() - i)));
    std::swap(pool[i], pool[j]);
  }
  pool.resize(wanted);
  return pool;
}

Raster select_bands(const Sample& sample, const std::vector<std::string>& bands) {
  struct Pick {
    const Raster* raster;
    int64_t channel;
  };
  std::vector<Pick> picks;
  for (const std::string& band : bands) {
    std::optional<Pick> found;
    for (const std::optional<Raster>* r : {&sample.s2, &sample.s1}) {
      if (found || !*r) continue;
      const auto& names = (*r)->bands;
      const auto it = std::find(names.begin(), names.end(), band);
      if (it != names.end()) found = Pick{&**r, static_cast<int64_t>(it - names.begin())};
    }
    RSD_CHECK(found, "select_bands: sample ", sample.id, " has no band ", band, " (S2: ",
              sample.s2 ? describe(*sample.s2) : "none", "; S1: ", sample.s1 ? describe(*sample.s1) : "none", ")");
    check_raster(*found->raster, "select_bands");
    picks.push_back(*found);
  }
  RSD_CHECK(!picks.empty(), "select_bands: sample ", sample.id, ": no band asked for");
  const Raster& first = *picks.front().raster;
  Raster out;
  out.bands = bands;
  out.height = first.height;
  out.width = first.width;
  out.geo = first.geo;
  out.source_dtype = first.source_dtype;
  for (const Pick& p : picks) {
    const Raster& r = *p.raster;
    RSD_CHECK(r.height == first.height && r.width == first.width,
              grid_mismatch("select_bands", sample, *sample.s1, "S1", *sample.s2, "S2"));
    if (out.source.find(r.source) == std::string::npos) out.source += (out.source.empty() ? "" : " + ") + r.source;
  }
  const int64_t pixels = out.height * out.width, channels = out.channels();
  out.pixels.resize(static_cast<size_t>(pixels * channels));
  out.valid.resize(out.pixels.size());
  for (int64_t c = 0; c < channels; ++c) {
    const Raster& r = *picks[static_cast<size_t>(c)].raster;
    const int64_t from = picks[static_cast<size_t>(c)].channel, stride = r.channels();
    for (int64_t p = 0; p < pixels; ++p) {
      out.pixels[static_cast<size_t>(p * channels + c)] = r.pixels[static_cast<size_t>(p * stride + from)];
      out.valid[static_cast<size_t>(p * channels + c)] = r.valid[static_cast<size_t>(p * stride + from)];
    }
  }
  out.invalid_count = count_invalid(out);
  return out;
}

// ---- photometric ----

void gaussian_blur(Raster& raster, double sigma) {
  check_raster(raster, "gaussian_blur");
  RSD_CHECK(sigma > 0 && std::isfinite(sigma), "gaussian_blur: sigma must be positive, got ", sigma);
  const int64_t radius = static_cast<int64_t>(std::ceil(3.0 * sigma));
  std::vector<double> kernel(static_cast<size_t>(2 * radius + 1));
  double total = 0;
  for (int64_t k = -radius; k <= radius; ++k) {
    const double w = std::exp(-static_cast<double>(k * k) / (2.0 * sigma * sigma));
    kernel[static_cast<size_t>(k + radius)] = w;
    total += w;
  }
  for (double& w : kernel) w /= total;
  Raster tmp = raster;
  convolve_pass(raster, tmp, kernel, true);
  convolve_pass(tmp, raster, kernel, false);
  zero_invalid(raster);
}

void jitter_brightness_contrast(Raster& raster, const PhotometricSpec& spec, ViewRandom& rng) {
  check_raster(raster, "jitter_brightness_contrast");
  const size_t channels = static_cast<size_t>(raster.channels());
  std::vector<double> brightness(channels), contrast(channels), sum(channels, 0.0), mean(channels, 0.0);
  std::vector<int64_t> count(channels, 0);
  for (size_t c = 0; c < channels; ++c) {
    brightness[c] = rng.uniform(-spec.brightness, spec.brightness);
    contrast[c] = rng.uniform(1.0 - spec.contrast, 1.0 + spec.contrast);
  }
  for (size_t p = 0; p < raster.pixels.size(); p += channels)
    for (size_t c = 0; c < channels; ++c)
      if (raster.valid[p + c]) {
        sum[c] += raster.pixels[p + c];
        ++count[c];
      }
  for (size_t c = 0; c < channels; ++c) mean[c] = count[c] > 0 ? sum[c] / static_cast<double>(count[c]) : 0.0;
  for (size_t p = 0; p < raster.pixels.size(); p += channels)
    for (size_t c = 0; c < channels; ++c)
      if (raster.valid[p + c])
        raster.pixels[p + c] = static_cast<float>((raster.pixels[p + c] - mean[c]) * contrast[c] + mean[c] + brightness[c]);
}

int64_t band_dropout(Raster& raster, double p, ViewRandom& rng) {
  check_raster(raster, "band_dropout");
  const int64_t channels = raster.channels(), pixels = raster.height * raster.width;
  std::vector<char> drop(static_cast<size_t>(channels));
  for (char& d : drop) d = rng.bernoulli(p);
  if (channels > 0 && std::all_of(drop.begin(), drop.end(), [](char d) { return d != 0; }))
    drop[static_cast<size_t>(rng.below(channels))] = 0;
  int64_t dropped = 0;
  for (int64_t c = 0; c < channels; ++c) {
    if (!drop[static_cast<size_t>(c)]) continue;
    ++dropped;
    for (int64_t q = 0; q < pixels; ++q) raster.pixels[static_cast<size_t>(q * channels + c)] = 0.0f;
  }
  return dropped;
}

void apply_photometric(Raster& raster, const PhotometricSpec& spec, ViewRandom& rng) {
  if (rng.bernoulli(spec.p_jitter)) jitter_brightness_contrast(raster, spec, rng);
  if (rng.bernoulli(spec.p_blur)) gaussian_blur(raster, rng.uniform(spec.blur_sigma_min, spec.blur_sigma_max));
  if (spec.p_band_dropout > 0) band_dropout(raster, spec.p_band_dropout, rng);
}

// ---- per-method recipes ----

ViewSpec ViewSpec::byol_single(bool include_sar) {
  ViewSpec s;
  s.method = ViewMethod::byol_single;
  s.geometric.scale_min = 0.5;
  s.bands = {BandMode::single, include_sar};
  return s;
}

ViewSpec ViewSpec::byol_three(bool include_sar) {
  ViewSpec s = byol_single(include_sar);
  s.method = ViewMethod::byol_three;
  s.bands.mode = BandMode::three;
  return s;
}

ViewSpec ViewSpec::simclr_ms() {
  ViewSpec s;
  s.method = ViewMethod::simclr_ms;
  s.geometric.scale_min = 0.2;
  s.photometric.p_jitter = 0.8;
  s.photometric.p_blur = 0.5;
  s.photometric.p_band_dropout = 0.2;
  return s;
}

ViewSpec ViewSpec::dual_encoder() {
  ViewSpec s;
  s.method = ViewMethod::dual_encoder;
  s.geometric.scale_min = 0.5;
  s.aligned = true;
  return s;
}

const char* view_method_name(ViewMethod method) {
  switch (method) {
    case ViewMethod::byol_single: return "byol_single";
    case ViewMethod::byol_three: return "byol_three";
    case ViewMethod::simclr_ms: return "simclr_ms";
    default: return "dual_encoder";
  }
}

namespace {

constexpr uint32_t kViews = 2;

const Raster& require(const std::optional<Raster>& r, const char* name, const Sample& sample, const std::string& context) {
  RSD_CHECK(r.has_value(), context, ": sample ", sample.id, " has no ", name, " raster");
  return *r;
}

// The raster each view starts from. byol: the view's sampled bands, made into `selected`;
// simclr_ms: S2 twice; dual_encoder: S1, then S2.
std::vector<const Raster*> view_inputs(const Sample& sample, const ViewSpec& spec, uint64_t seed, uint64_t index,
                                       const std::string& context, std::vector<Raster>& selected) {
  if (spec.method == ViewMethod::simclr_ms) return {&require(sample.s2, "S2", sample, context), &*sample.s2};
  if (spec.method == ViewMethod::dual_encoder)
    return {&require(sample.s1, "S1", sample, context), &require(sample.s2, "S2", sample, context)};
  // Checked whatever bands are drawn, so that a bad sample fails on every draw, not on some.
  const Raster& s2 = require(sample.s2, "S2", sample, context);
  if (spec.bands.include_sar) {
    const Raster& s1 = require(sample.s1, "S1", sample, context);
    RSD_CHECK(s1.height == s2.height && s1.width == s2.width, grid_mismatch(context.c_str(), sample, s1, "S1", s2, "S2"));
  }
  selected.clear();
  selected.reserve(kViews);  // no reallocation: the pointers returned stay valid
  std::vector<const Raster*> inputs;
  for (uint32_t v = 0; v < kViews; ++v) {
    ViewRandom rng(seed, index, stream_of(v, kBandsPurpose));
    selected.push_back(select_bands(sample, draw_bands(spec.bands, rng)));
    inputs.push_back(&selected.back());
  }
  return inputs;
}

}  // namespace

std::vector<Raster> make_views(const Sample& sample, const ViewSpec& spec, uint64_t seed, uint64_t index) {
  const std::string context = str_cat("make_views (", view_method_name(spec.method), ")");
  std::vector<Raster> selected;
  const std::vector<const Raster*> inputs = view_inputs(sample, spec, seed, index, context, selected);
  // A geometry for `raster`; a spec that does not fit it (a crop larger than the image) names the sample.
  auto draw_for = [&](const Raster* raster, uint32_t stream) {
    ViewRandom rng(seed, index, stream);
    try {
      return draw_geometric(spec.geometric, raster->height, raster->width, rng);
    } catch (const Error& e) {
      fail(context, ": sample ", sample.id, " (", describe(*raster), "): ", e.what());
    }
  };
  std::optional<GeometricTransform> shared;
  if (spec.aligned) {
    const bool dual = spec.method == ViewMethod::dual_encoder;
    RSD_CHECK(inputs[0]->height == inputs[1]->height && inputs[0]->width == inputs[1]->width,
              grid_mismatch(context.c_str(), sample, *inputs[0], dual ? "S1" : "view 0", *inputs[1],
                            dual ? "S2" : "view 1"));
    shared = draw_for(inputs[0], stream_of(kSharedView, kGeometryPurpose));
  }
  std::vector<Raster> views;
  for (uint32_t v = 0; v < kViews; ++v) {
    const Raster& in = *inputs[v];
    const GeometricTransform t = shared ? *shared : draw_for(&in, stream_of(v, kGeometryPurpose));
    views.push_back(apply_geometric(t, in, Resampling::bilinear));
    ViewRandom photometry_rng(seed, index, stream_of(v, kPhotometryPurpose));
    apply_photometric(views.back(), spec.photometric, photometry_rng);
  }
  return views;
}

}  // namespace rsd::data
