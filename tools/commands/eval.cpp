// `rsd eval linear | knn | seg`: probes of a pretrained encoder on frozen features
// (models/downstream/linear_probe.h, seg_probe.h).
#include <memory>

#include "models/downstream/linear_probe.h"
#include "models/downstream/seg_probe.h"
#include "tools/commands/commands.h"

namespace rsd::commands {

namespace {

// The options both probes take; `o` outlives the app (held by the callbacks).
void add_common_options(CLI::App* cmd, downstream::ProbeOptions& o) {
  cmd->add_option("--checkpoint", o.checkpoint,
                  "The pretraining checkpoint: a .safetensors file, or a checkpoints/ folder (its latest), or an "
                  "encoder written by export-weights")
      ->required();
  cmd->add_option("--data", o.data, "A labelled dataset with train/ and test/ splits (EuroSAT-MS layout)")->required();
  cmd->add_option("--encoder", o.encoder,
                  "Which encoder of the checkpoint: online (byol, simclr), s1 or s2 (dual-contrastive); "
                  "default: online, or s2");
  cmd->add_option("--bands", o.bands,
                  "Comma-separated bands: what an RS-BYOL encoder reads (e.g. B04 or B04,B03,B02); with "
                  "--per-band, the bands to probe (default: every band of the data)")
      ->delimiter(',');
  cmd->add_flag("--per-band", o.per_band,
                "Single-channel encoders: probe every band alone through the encoder and print macro-F1 by band");
  cmd->add_option("--device", o.device, "cpu, cuda, cuda:N or auto (features only; the heads run on the CPU)")
      ->capture_default_str();
  cmd->add_option("--out", o.out_dir, "Write results.json, report.txt and confusion-matrix PNGs to this folder");
  cmd->add_option("--batch", o.batch, "Chips per encoder forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--random-init-seed", o.random_init_seed, "Seed of the random-init baseline's weights")
      ->capture_default_str();
  cmd->add_flag("--quiet", o.quiet, "Print nothing (errors still fail the command)");
}

}  // namespace

void add_eval_command(CLI::App& app) {
  CLI::App* eval = app.add_subcommand("eval", "Probe a pretrained encoder on frozen features (with baselines)");
  eval->require_subcommand(1);

  auto linear_options = std::make_shared<downstream::ProbeOptions>();
  CLI::App* linear = eval->add_subcommand(
      "linear",
      "Linear probe: multinomial logistic regression on frozen pooled features, L2 chosen on a validation "
      "split; accuracy, macro-F1, per-class F1, confusion matrix; random-init and band-statistics baselines");
  add_common_options(linear, *linear_options);
  linear->add_option("--l2", linear_options->logistic.l2_grid, "The L2 strengths to choose from (comma-separated)")
      ->delimiter(',');
  linear
      ->add_option("--validation-fraction", linear_options->logistic.validation_fraction,
                   "Fraction of each class of the training split held out to choose the L2 strength")
      ->check(CLI::Range(0.01, 0.9))
      ->capture_default_str();
  linear->add_option("--validation-seed", linear_options->logistic.seed, "Seed of the validation split")
      ->capture_default_str();
  linear->add_option("--steps", linear_options->logistic.steps, "L-BFGS iterations per fit, at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  linear->callback([linear_options] {
    if (!linear_options->quiet) print_compute_line(linear_options->device);
    downstream::run_classification_probe(*linear_options, downstream::ProbeHead::logistic);
  });

  auto knn_options = std::make_shared<downstream::ProbeOptions>();
  CLI::App* knn = eval->add_subcommand(
      "knn",
      "k-nearest-neighbour probe: cosine similarity on frozen pooled features, majority vote (ties: summed "
      "similarity); same metrics and baselines as 'linear'");
  add_common_options(knn, *knn_options);
  knn->add_option("--k", knn_options->knn_k, "Neighbours that vote")->check(CLI::PositiveNumber)->capture_default_str();
  knn->callback([knn_options] {
    if (!knn_options->quiet) print_compute_line(knn_options->device);
    downstream::run_classification_probe(*knn_options, downstream::ProbeHead::knn);
  });

  auto seg = std::make_shared<downstream::SegOptions>();
  CLI::App* seg_cmd = eval->add_subcommand(
      "seg",
      "Linear segmentation probe: a 1x1 convolution on bilinearly upsampled frozen features; per-class IoU "
      "and mIoU on label maps (Sen1Floods11 water, TerraMesh LULC); scenes cut into tiles, checkerboard "
      "train/test split; random-init and band-values baselines");
  seg_cmd
      ->add_option("--checkpoint", seg->checkpoint,
                   "The pretraining checkpoint: a .safetensors file, or a checkpoints/ folder (its latest), or an "
                   "encoder written by export-weights")
      ->required();
  seg_cmd
      ->add_option("--data", seg->data, "A dataset whose samples carry label maps (Sen1Floods11, TerraMesh with LULC/)")
      ->required();
  seg_cmd->add_option("--encoder", seg->encoder, "Which encoder: online, s1 or s2 (default: online, or s2)");
  seg_cmd->add_option("--bands", seg->bands, "Comma-separated bands an RS-BYOL encoder reads (e.g. B04)")
      ->delimiter(',');
  seg_cmd->add_option("--device", seg->device, "cpu, cuda, cuda:N or auto (features only; the head runs on the CPU)")
      ->capture_default_str();
  seg_cmd->add_option("--out", seg->out_dir, "Write results.json and report.txt to this folder");
  seg_cmd->add_option("--tile", seg->tile, "Tile side in pixels (a multiple of the encoder's output stride)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  seg_cmd->add_option("--max-train-pixels", seg->max_train_pixels, "Training pixels sampled for the head")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  seg_cmd->add_option("--seed", seg->seed, "Seed of the training-pixel sample")->capture_default_str();
  seg_cmd->add_option("--random-init-seed", seg->random_init_seed, "Seed of the random-init baseline's weights")
      ->capture_default_str();
  seg_cmd->add_option("--steps", seg->logistic.steps, "L-BFGS iterations per fit, at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  seg_cmd->add_flag("--quiet", seg->quiet, "Print nothing (errors still fail the command)");
  seg_cmd->callback([seg] {
    if (!seg->quiet) print_compute_line(seg->device);
    downstream::run_segmentation_probe(*seg);
  });
}

}  // namespace rsd::commands
