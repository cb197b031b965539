// `rsd embed`: embeddings of every chip of a dataset, or per pixel of a GeoTIFF with --dense
// (models/downstream/embed_chips.h, embed_dense.h).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/error.h"
#include "models/downstream/embed_chips.h"
#include "models/downstream/embed_dense.h"
#include "models/downstream/embed_inputs.h"
#include "tools/commands/commands.h"

namespace rsd::commands {

namespace {

struct EmbedArgs {
  std::string checkpoint, input, out, encoder, dtype = "float32", device = "auto", format = "float32";
  std::vector<std::string> bands, raster_bands;
  int64_t batch = 16, tile = 0, overlap = -1, dims = 0, pca_pixels = 50000, pca_tiles = 64;
  uint64_t seed = 0;
  bool dense = false;
};

downstream::DenseOptions dense_options(const EmbedArgs& a) {
  downstream::DenseOptions o;
  o.input = a.input;
  o.out = a.out;
  o.raster_bands = a.raster_bands;
  o.format = downstream::parse_dense_format(a.format);
  o.tile = a.tile;
  o.overlap = a.overlap;
  o.dims = a.dims;
  o.pca_pixels = a.pca_pixels;
  o.pca_tiles = a.pca_tiles;
  o.seed = a.seed;
  return o;
}

downstream::EmbedOptions chip_options(const EmbedArgs& a) {
  downstream::EmbedOptions o;
  o.input = a.input;
  o.out_dir = a.out;
  o.raster_bands = a.raster_bands;
  o.dtype = downstream::parse_embedding_dtype(a.dtype);
  o.batch = a.batch;
  return o;
}

void run_dense(const EmbedArgs& a, const downstream::PretrainedEncoder& enc) {
  const downstream::DenseResult r = downstream::embed_dense(enc, dense_options(a));
  std::printf("wrote %s (%lld x %lld px, %lld bands, %s, %lld tiles, %lld nodata pixels)\n", r.path.c_str(),
              static_cast<long long>(r.width), static_cast<long long>(r.height), static_cast<long long>(r.bands),
              a.format.c_str(), static_cast<long long>(r.tiles), static_cast<long long>(r.invalid_pixels));
  if (!r.pca_path.empty())
    std::printf("PCA %lld -> %lld dims, explained variance %.4f (%lld pixels of %lld tiles): %s\n",
                static_cast<long long>(r.dim), static_cast<long long>(r.bands), r.pca_explained,
                static_cast<long long>(r.pca_samples), static_cast<long long>(r.pca_tiles), r.pca_path.c_str());
}

void run_embed(const EmbedArgs& a) {
  // Everything that can be checked without the model is, before it is loaded (loading and
  // embedding can take minutes): the options, the band names, where the output goes.
  downstream::check_raster_band_names(a.raster_bands);
  const std::vector<ProtectedInput> checkpoint = downstream::checkpoint_inputs(a.checkpoint);
  if (a.dense) {
    const downstream::DenseOptions o = dense_options(a);
    downstream::check_dense_outputs(o, o.format == downstream::DenseFormat::int8 || o.dims > 0);
    check_output_file(o.out, "rsd embed --dense --out", 0, checkpoint);
  } else {
    const downstream::EmbedOptions o = chip_options(a);
    downstream::check_embed_outputs(o);
    check_output_dir(o.out_dir, "rsd embed --out", {"embeddings.npy", "index.csv", "embeddings.json"}, 0, checkpoint);
  }
  print_compute_line(a.device);
  const downstream::PretrainedEncoder enc =
      downstream::load_pretrained_encoder(a.checkpoint, a.encoder, a.bands, parse_device(a.device));
  if (a.dense) return run_dense(a, enc);
  const downstream::EmbedResult r = downstream::embed_chips(enc, chip_options(a));
  std::printf("wrote %s (%lld x %lld), %s, %s\n", r.embeddings.c_str(), static_cast<long long>(r.rows),
              static_cast<long long>(r.dim), r.index.c_str(), r.metadata.c_str());
  if (!r.all_nodata_rows.empty())
    std::printf("%zu chip(s) without one valid value: NaN rows (valid_fraction 0 in index.csv)\n",
                r.all_nodata_rows.size());
}

}  // namespace

void add_embed_command(CLI::App& app) {
  auto a = std::make_shared<EmbedArgs>();
  CLI::App* cmd = app.add_subcommand(
      "embed", "Embeddings of every chip of a dataset folder, shard dataset or GeoTIFF from a pretrained encoder");
  cmd->add_option("--checkpoint", a->checkpoint,
                  "A pretraining checkpoint (.safetensors) or its folder, or an encoder written by export-weights")
      ->required();
  cmd->add_option("--input", a->input, "A dataset folder (any layout), a shard dataset or one GeoTIFF")->required();
  cmd->add_option("--out", a->out,
                  "Output folder (embeddings.npy, index.csv, embeddings.json); with --dense the output GeoTIFF")
      ->required();
  cmd->add_option("--encoder", a->encoder,
                  "Which encoder: online (byol, simclr), s1 or s2 (dual-contrastive; default s2)");
  cmd->add_option("--bands", a->bands, "Bands an RS-BYOL encoder reads, e.g. B04 or B04,B03,B02")->delimiter(',');
  cmd->add_option("--raster-bands", a->raster_bands,
                  "Band names of a GeoTIFF input in file order, when its band descriptions do not name them")
      ->delimiter(',');
  cmd->add_option("--dtype", a->dtype, "float32 or float16 (embeddings.npy)")->capture_default_str();
  cmd->add_option("--batch", a->batch, "Chips per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--device", a->device, "auto (a GPU when present), cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--dense", a->dense, "Per-pixel embeddings of one GeoTIFF, written as a GeoTIFF on its grid");
  cmd->add_option("--tile", a->tile, "Dense mode: tile size in pixels (default 8 x the encoder's output stride)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--overlap", a->overlap, "Dense mode: overlap of neighbouring tiles in pixels (default tile / 4)");
  cmd->add_option("--format", a->format,
                  "Dense mode: float32, or int8 unit vectors (round(v x 127), -128 = nodata; 64-d PCA by default)")
      ->capture_default_str();
  cmd->add_option("--dims", a->dims,
                  "Dense mode: output dimensions, reduced by a PCA fitted on the raster (its mean and components in "
                  "a sidecar, --out with .pca.npy for .tif); default 64 for int8, all D for float32")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--pca-pixels", a->pca_pixels, "Dense mode: most valid pixels the PCA is fitted on")
      ->check(CLI::Range(int64_t{2}, int64_t{10000000}))
      ->capture_default_str();
  cmd->add_option("--pca-tiles", a->pca_tiles, "Dense mode: most tiles the PCA sample is drawn from")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Dense mode: seed of the PCA sample")->capture_default_str();
  cmd->callback([a] { run_embed(*a); });
}

}  // namespace rsd::commands
