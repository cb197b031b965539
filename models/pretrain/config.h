// The configuration of `rsd pretrain`: a TOML file (configs/*.toml) plus `--set key=value`
// overrides, read into PretrainConfig. One schema table (config_schema.cpp) names every key with
// its type, default (the member initializers below, or a default that depends on the method),
// allowed values and meaning; parsing, overrides, to_toml, to_json_text and the help text all
// come from it.
//
// Relative paths (data.path, data.statistics, log.out_dir) are relative to the working
// directory, as on the command line; the shipped configs expect to be run from the repository
// root.
//
// Every error is an rsd::Error naming the origin (the file, or the override), the key and, for
// a value from the file, its line: "configs/x.toml:12: 'train.lr' must be a number, got string
// \"fast\"".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rsd::pretrain {

enum class PretrainMethod { byol, dual_contrastive, simclr };

struct DataConfig {
  std::string path;             // required: a dataset folder (any layout rsd detects) or a shard dataset
  std::string layout = "auto";  // auto or a name from data/layouts.h (terramesh, sen12ms, ...)
  int64_t patch_size = 64;      // views are patch_size x patch_size
  int64_t repeat = 1;           // passes over the dataset per epoch (each with new random views)
  int workers = 2;              // loader threads
  int prefetch = 4;             // batches being filled or ready
  std::string statistics;       // per-band statistics JSON; "" = from the shard dataset, or computed at start
};

struct ModelConfig {
  std::string arch = "resnet50";  // resnet18 | resnet34 | resnet50
  std::string stem = "standard";  // standard | small-patch
  int width = 64;                 // base width (64 = torchvision); smaller for CPU demos
  bool zero_init_residual = true;
  int projector_hidden = 4096;    // method default: 4096 byol, 2048 dual-contrastive / simclr
  int projector_out = 256;        // method default: 256 byol, 128 dual-contrastive / simclr
  int predictor_hidden = 4096;    // byol only
};

struct ByolConfig {
  std::string view_mode = "single-channel";  // single-channel | three-channel
  std::string modality = "ms+sar";           // ms | ms+sar
  double tau_base = 0.99;                    // target EMA rate at step 0; cosine to 1
};

struct ContrastiveConfig {
  double temperature = 0.1;
  bool learnable_temperature = false;
};

struct TrainConfig {
  int64_t batch_size = 256;           // global (all ranks); per optimizer step = batch_size x grad_accum samples
  int64_t steps = 0;                  // optimizer steps; 0: epochs decides
  int64_t epochs = 100;
  std::string optimizer = "lars";     // lars | sgd | adamw
  double lr = 0.2;                    // base lr for a batch of 256; method default: 0.2 byol, 0.3 others
  std::string lr_scaling = "linear";  // linear (lr x batch x grad_accum / 256) | none
  double final_lr = 0.0;
  double warmup_fraction = 0.05;      // of the total steps, in [0, 1)
  double weight_decay = 1.5e-6;       // method default: 1.5e-6 byol, 1e-6 others
  double momentum = 0.9;              // sgd / lars
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;  // adamw
  int grad_accum = 1;
  double grad_clip = 0.0;             // max global gradient norm; 0 = off
  std::string precision = "auto";     // auto (bf16 on GPU, fp32 on CPU) | fp32 | bf16
  int max_bad_steps = 5;              // NaN/Inf guard: stop after this many skipped steps in a row
  bool deterministic = true;          // GPU: deterministic cuDNN algorithms only (engine/gpu_options.h)
  bool tf32 = false;                  // GPU: TF32 for fp32 convolutions
  int64_t cudnn_workspace_mb = 256;   // GPU: cap on one convolution's cuDNN workspace
};

struct LogConfig {
  std::string out_dir = "runs/pretrain";
  int64_t every = 10;  // steps between log lines
  bool progress = true;
  bool plot = true;    // loss curve PNG in out_dir
};

struct CheckpointConfig {
  int64_t every = 500;  // steps between checkpoints
  int keep_last = 3;
};

// Data-parallel training over the processes of a launch (mpirun, srun, torchrun-style variables;
// engine/comm/bootstrap.h). train.batch_size is the global batch: each of W ranks takes
// batch_size / W samples, so a config means the same training at any W (docs/scaling.md).
struct DistributedConfig {
  std::string backend = "auto";  // auto (nccl on GPUs, mpi on CPUs, single for one process) | mpi | nccl | single
  double bucket_mb = 25;         // gradient all-reduce bucket size, MiB
  double timeout_s = 300;        // a collective pending this long ends the job with an error
  bool sync_bn = false;          // batch-norm statistics over the global batch (SyncBN)
};

struct PretrainConfig {
  PretrainMethod method = PretrainMethod::byol;
  uint64_t seed = 0;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  DataConfig data;
  ModelConfig model;
  ByolConfig byol;
  ContrastiveConfig contrastive;
  TrainConfig train;
  LogConfig log;
  CheckpointConfig checkpoint;
  DistributedConfig distributed;
  std::string source;  // the file it came from (for messages); not a key
};

// "byol", "dual-contrastive", "simclr".
const char* pretrain_method_name(PretrainMethod method);

// Parses TOML text; `origin` names it in errors (a file path or "<string>"). `overrides` are
// "key=value" with dotted keys ("train.lr=0.1", "method=simclr"), applied in order over the
// file; the value is parsed as a TOML value, and a bare word that is not valid TOML is taken as
// a string ("data.path=/x/y" works without quotes). A method-dependent default applies only to a
// key given neither in the file nor in an override.
PretrainConfig parse_pretrain_config(const std::string& toml_text, const std::string& origin,
                                     const std::vector<std::string>& overrides = {});
// Reads `path` and parses it (source = path).
PretrainConfig load_pretrain_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Checks what needs the file system: data.path exists (and data.statistics, if set, is a file).
void check_pretrain_paths(const PretrainConfig& config);

// Every key, in the schema's order, with its value; parse_pretrain_config(to_toml(c)) == c.
std::string to_toml(const PretrainConfig& config);
// A JSON object {"method": ..., "data": {...}, ..., "source": ...} (for checkpoint sidecars and logs).
std::string to_json_text(const PretrainConfig& config);
// Every key: type, allowed values, default, meaning (for `rsd pretrain --help`).
std::string pretrain_config_help();

}  // namespace rsd::pretrain
