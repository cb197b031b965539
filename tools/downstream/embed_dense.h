// Dense embeddings (`rsd embed --dense`): a per-pixel embedding of one raster (a scene, a
// Sen1Floods11 chip) as a GeoTIFF on the source's grid.
//
// The raster is read tile by tile (tile x tile pixels, neighbours overlapping by `overlap`); each
// tile's normalized encoder input (tools/downstream/embed_chips.h encoder_input: missing bands are
// filled with 0 and named in one warning) goes through the encoder's feature map (stride s = 8 or
// 32), which is upsampled bilinearly to the tile's pixels (feature cell j is centred on pixel
// (j + 0.5) s - 0.5; edges clamp). Tiles are blended with a separable window sin^2(pi (i + 0.5) / n)
// per axis, which is positive everywhere, so every pixel is covered, and fades tile borders (where
// zero padding shows) in favour of the neighbouring tile's interior.
//
// Output (GeoTIFF, GDAL GTiff: TILED=YES, COMPRESS=DEFLATE, internal overviews, the source's CRS
// and geotransform; metadata RSD_MODEL_ID, RSD_ENCODER, RSD_BANDS, RSD_STATISTICS, RSD_FORMAT):
//   float32: D bands, the blended features; nodata NaN where any of the input's bands is invalid.
//   int8:    D bands, each pixel's vector L2-normalized and quantized as round(v * 127) in
//            [-127, 127] (|v_k - q_k / 127| <= 0.5 / 127); -128 = nodata (the input is invalid).
// The accumulator holds H x W x D floats in memory: a full Sentinel-2 scene at D = 512 does not fit;
// embed a crop, or use a smaller encoder width.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tools/downstream/pretrained_encoder.h"

namespace rsd::tools {

enum class DenseFormat { float32, int8 };

struct DenseOptions {
  std::string input;                      // one GeoTIFF
  std::string out;                        // the output GeoTIFF
  std::vector<std::string> raster_bands;  // when the band descriptions name no S1/S2 bands
  DenseFormat format = DenseFormat::float32;
  int64_t tile = 0;      // pixels; 0: 8 x the encoder's output stride
  int64_t overlap = -1;  // pixels, < tile; -1: tile / 4
  bool progress = true;
  bool warnings = true;
};

struct DenseResult {
  std::string path;
  int64_t height = 0, width = 0, dim = 0;
  int64_t tiles = 0, invalid_pixels = 0;
  std::vector<std::string> missing_bands;
};

DenseResult embed_dense(const PretrainedEncoder& enc, const DenseOptions& options);

// "float32" / "int8"; another name is an rsd::Error.
DenseFormat parse_dense_format(const std::string& name);

// The window weight of index i in a tile of n pixels: sin^2(pi (i + 0.5) / n), in (0, 1].
double blend_weight(int64_t i, int64_t n);

// round(v * 127) clamped to [-127, 127], for a component v of a unit vector.
int8_t quantize_unit(float v);

}  // namespace rsd::tools
