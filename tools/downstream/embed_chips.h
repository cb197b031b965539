// Per-chip embeddings (`rsd embed`): every chip of a dataset folder, shard dataset or GeoTIFF
// (tools/downstream/embed_inputs.h) through a pretrained encoder's pooled features.
//
// For each chip the encoder's bands are taken by name from its S2 and S1 rasters, normalized with
// the encoder's statistics (data/normalization.h, exactly as in pretraining), and run in batches
// of equal-size chips. A band the input lacks is filled with 0, its training mean after
// standardization; one warning (stderr) names the missing bands. Written atomically in out_dir:
//   embeddings.npy   (N, D) float32 or float16, row i = chip i
//   index.csv        row,id,source,crs,minx,miny,maxx,maxy,label (CRS "EPSG:<code>" when GDAL identifies
//                    it, else WKT; bounds in its units; fields with commas or quotes quoted as in RFC 4180)
//   embeddings.json  model_id, method, encoder, arch, stem, bands, statistics, dtype, shape, input
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/sample.h"
#include "engine/dtype.h"
#include "tools/downstream/pretrained_encoder.h"

namespace rsd::tools {

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
  std::string embeddings, index, metadata;  // the paths written
};

// The encoder's input for one sample: (H, W, C) normalized float32 in enc.bands order, H and W of
// the sample's S2 raster (else S1). Bands the sample lacks are 0 and appended to `missing` (when
// not null). An rsd::Error names the sample's source when it holds none of the encoder's bands, or
// when S1 and S2 differ in size.
data::Raster encoder_input(const data::Sample& sample, const PretrainedEncoder& enc, std::vector<std::string>* missing);

EmbedResult embed_chips(const PretrainedEncoder& enc, const EmbedOptions& options);

// "float32" / "float16" <-> f32 / f16; another name is an rsd::Error.
DType parse_embedding_dtype(const std::string& name);

}  // namespace rsd::tools
