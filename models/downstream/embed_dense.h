// Dense embeddings (`rsd embed --dense`): a per-pixel embedding of one raster (a scene, a
// Sen1Floods11 chip) as a GeoTIFF on the source's grid.
//
// The raster is read tile by tile (tile x tile pixels, neighbours overlapping by `overlap`); each
// tile's normalized encoder input (models/downstream/embed_chips.h encoder_input: missing bands are
// filled with 0 and named in one warning) goes through the encoder's feature map (stride s = 8 or
// 32), which is upsampled bilinearly to the tile's pixels (feature cell j is centred on pixel
// (j + 0.5) s - 0.5; edges clamp). Tiles are blended with a separable window sin^2(pi (i + 0.5) / n)
// per axis, which is positive everywhere, so every pixel is covered, and fades tile borders (where
// zero padding shows) in favour of the neighbouring tile's interior.
//
// Output (models/downstream/dense_writer.h: GDAL GTiff, TILED=YES 256 x 256, COMPRESS=DEFLATE,
// internal overviews, the source's CRS and geotransform; metadata RSD_MODEL_ID, RSD_ENCODER,
// RSD_BANDS, RSD_MISSING_BANDS, RSD_STATISTICS, RSD_FORMAT, RSD_TILE, RSD_DIMS, RSD_PCA and, with
// PCA, RSD_PCA_EXPLAINED and RSD_PCA_SAMPLE):
//   float32: D bands, the blended features; nodata NaN where any of the input's bands is invalid.
//            With `dims` < D: `dims` bands, the PCA projection below (not normalized).
//   int8:    64 bands by default (`dims`), as Google's Satellite Embedding dataset ships them: each
//            pixel's blended feature v (D) is projected, y_j = c_j . (v - mean) for j < 64, then
//            L2-normalized and quantized as round(y * 127) in [-127, 127] (|y_j - q_j / 127| <=
//            0.5 / 127); -128 = nodata (the input is invalid). When D <= dims there is no PCA: the
//            D features themselves are normalized and quantized (D bands).
//
// PCA (when the output has fewer dimensions than the encoder's D): fitted on the raster's own
// embeddings before anything is written. A first pass embeds a seeded sample of up to `pca_tiles`
// tiles (they are embedded again in the second pass: pca_tiles extra tiles of work) and takes up
// to `pca_pixels` valid pixels from them (pca_pixels / tiles from each, fewer where a tile has fewer
// valid ones; drawn with models/downstream/seeded_stream.h, so a seed gives the same sample), their
// upsampled tile features (not blended: neighbours are not embedded in this pass); mean-centred
// covariance, top-k eigenvectors (pca.h, pca_eigen.h). The mean and the components go to a
// sidecar next to the GeoTIFF, <out stem>.pca.npy (written once the GeoTIFF is complete, just
// before it is renamed into place: a run that fails earlier leaves an older pair untouched): one
// float64 array (1 + k, D), row 0 the mean, rows 1..k the components (unit length, orthogonal):
//     t = np.load("x.pca.npy"); mean, comps = t[0], t[1:]; y = (v - mean) @ comps.T
// reproduces the projection. RSD_PCA names that file (or says "none"), RSD_DIMS gives the bands,
// RSD_PCA_EXPLAINED the explained variance ratio summed over the k components, RSD_PCA_SAMPLE the
// sample (pixels, tiles, seed).
//
// Memory: the raster is processed in strips of `strip_tile_rows` rows of tiles (default 1). A strip
// adds its tiles to an accumulator of the rows not yet final (dense_strip.h); after it, the rows no
// later tile touches (those above the next strip's first tile row) are encoded and handed to the
// writer, which writes them once a row of 256-pixel blocks is complete. Peak memory is
// O(W x strip height x D): the accumulator holds at most W x ((strip_tile_rows - 1) x (tile -
// overlap) + tile) x D floats (W x tile x D for one tile row per strip; DenseResult reports the
// peak), plus the writer's W x 256 x bands output values and GDAL's block cache; never H x W x D.
// strip_tile_rows = 0 makes the whole raster one strip (the behaviour before streaming, kept as the
// reference the tests compare with: the output is the same, since every pixel sums the same tiles
// in the same order).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/downstream/dense_strip.h"
#include "models/downstream/pretrained_encoder.h"

namespace rsd::downstream {

enum class DenseFormat { float32, int8 };

struct DenseOptions {
  std::string input;                      // one GeoTIFF
  std::string out;                        // the output GeoTIFF
  std::vector<std::string> raster_bands;  // when the band descriptions name no S1/S2 bands
  DenseFormat format = DenseFormat::float32;
  int64_t tile = 0;             // pixels; 0: 8 x the encoder's output stride
  int64_t overlap = -1;         // pixels, < tile; -1: tile / 4
  int64_t dims = 0;             // output dimensions; 0: 64 for int8, D (no PCA) for float32
  int64_t pca_pixels = 50000;   // PCA sample: at most this many valid pixels
  int64_t pca_tiles = 64;       // from at most this many tiles
  uint64_t seed = 0;            // of the PCA sample
  int64_t strip_tile_rows = 1;  // rows of tiles per strip; 0: the whole raster in one strip
  bool progress = true;
  bool warnings = true;
};

struct DenseResult {
  std::string path;
  int64_t height = 0, width = 0;
  int64_t dim = 0;    // D, the encoder's features
  int64_t bands = 0;  // bands of the GeoTIFF: D, or the PCA's dimensions
  int64_t tiles = 0, invalid_pixels = 0;
  std::vector<std::string> missing_bands;
  std::string pca_path;                 // the sidecar; empty without PCA
  double pca_explained = 0;             // explained variance ratio of the kept components
  int64_t pca_samples = 0;              // pixels the PCA was fitted on
  int64_t pca_tiles = 0;                // tiles they came from
  int64_t peak_accumulator_values = 0;  // the most floats of sum w f held at once (rows x W x D)
};

// Before any tile is read, the output is checked (engine/output_preflight.h): a file that can be
// written, not the input raster (nor the PCA sidecar: compared as files, through any spelling or
// link), on a file system with room for it: W x H x bands x (4 or 1) bytes with the overviews,
// before compression, plus the sidecar. A write that fails later (the disk filled meanwhile) stops
// at the first failing row of blocks with one rsd::Error quoting GDAL, and removes the temporary file.
DenseResult embed_dense(const PretrainedEncoder& enc, const DenseOptions& options);

// The output checks embed_dense makes first, without the model: callers run them before loading
// it. `sidecar`: a PCA sidecar may be written. estimated_bytes 0: no space check.
void check_dense_outputs(const DenseOptions& options, bool sidecar, uint64_t estimated_bytes = 0,
                         const std::string& size_note = "");

// "float32" / "int8"; another name is an rsd::Error.
DenseFormat parse_dense_format(const std::string& name);

// round(v * 127) clamped to [-127, 127], for a component v of a unit vector.
int8_t quantize_unit(float v);

}  // namespace rsd::downstream
