// Per-chip embeddings (`rsd embed`): every chip of a dataset folder, shard dataset or GeoTIFF
// (models/downstream/embed_inputs.h) through a pretrained encoder's pooled features.
//
// For each chip the encoder's bands are taken by name from its S2 and S1 rasters, normalized with
// the encoder's statistics (data/normalization.h, exactly as in pretraining), and run in batches
// of equal-size chips. A band the input lacks is filled with 0, its training mean after
// standardization; one warning (stderr) names the missing bands. Written atomically in out_dir:
//   embeddings.npy   (N, D) float32 or float16, row i = chip i
//   index.csv        row,id,source,crs,minx,miny,maxx,maxy,label,valid_fraction (CRS "EPSG:<code>" when
//                    GDAL identifies it, else WKT; bounds in its units; fields with commas or quotes quoted
//                    as in RFC 4180; valid_fraction: the share of the chip's values, over the bands it
//                    holds, that are valid, 6 significant digits)
//   embeddings.json  model_id, method, encoder, arch, stem, bands, statistics, dtype, shape, input,
//                    missing_bands, all_nodata_rows
// A chip without one valid value (every pixel nodata or NaN) has no embedding: its row is NaN (so
// it cannot pass for data), valid_fraction 0, its row listed in all_nodata_rows, and one warning
// (stderr) counts such chips.
//
// Before any chip is embedded, the outputs are checked (engine/output_preflight.h): --out must be a
// folder that can be made and written, not inside the input dataset's folder, none of its files an
// input, and its file system must hold N x D values and index.csv.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/sample.h"
#include "engine/dtype.h"
#include "models/downstream/pretrained_encoder.h"

namespace rsd::downstream {

struct EmbedOptions {
  std::string input;                      // dataset folder, shard dataset or one GeoTIFF
  std::string out_dir;                    // made if absent
  std::vector<std::string> raster_bands;  // a GeoTIFF whose band descriptions name no S1/S2 bands
  DType dtype = DType::f32;               // f32 or f16 (embeddings.npy)
  int64_t batch = 16;                     // chips per forward pass
  bool progress = true;                   // a progress bar on stderr
  bool warnings = true;                   // print the missing-bands warning
};

struct EmbedResult {
  int64_t rows = 0, dim = 0;
  std::vector<std::string> missing_bands;   // encoder bands some chip lacked (filled with 0)
  std::vector<int64_t> all_nodata_rows;     // chips without one valid value: NaN rows
  std::string embeddings, index, metadata;  // the paths written
};

// The encoder's input for one sample: (H, W, C) normalized float32 in enc.bands order, H and W of
// the sample's S2 raster (else S1). Bands the sample lacks are 0 and appended to `missing` (when
// not null). An rsd::Error names the sample's source when it holds none of the encoder's bands, or
// when S1 and S2 differ in size.
data::Raster encoder_input(const data::Sample& sample, const PretrainedEncoder& enc, std::vector<std::string>* missing);

EmbedResult embed_chips(const PretrainedEncoder& enc, const EmbedOptions& options);

// The output checks embed_chips makes first (engine/output_preflight.h), without the model: callers
// run them before loading it. estimated_bytes 0: no space check.
void check_embed_outputs(const EmbedOptions& options, uint64_t estimated_bytes = 0, const std::string& size_note = "");

// "float32" / "float16" <-> f32 / f16; another name is an rsd::Error.
DType parse_embedding_dtype(const std::string& name);

}  // namespace rsd::downstream
