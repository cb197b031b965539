#include "models/pretrain/config_schema.h"

#include <utility>

#include "data/layouts.h"

namespace rsd::pretrain::config_schema {

std::string KeySpec::section() const {
  const size_t dot = key.find('.');
  return dot == std::string::npos ? std::string() : key.substr(0, dot);
}

std::string KeySpec::name() const {
  const size_t dot = key.find('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

Kind KeySpec::kind() const {
  struct KindOf {
    Kind operator()(FieldOf<bool>) const { return Kind::boolean; }
    Kind operator()(FieldOf<int>) const { return Kind::integer; }
    Kind operator()(FieldOf<int64_t>) const { return Kind::integer; }
    Kind operator()(FieldOf<uint64_t>) const { return Kind::integer; }
    Kind operator()(FieldOf<double>) const { return Kind::number; }
    Kind operator()(FieldOf<std::string>) const { return Kind::string; }
    Kind operator()(FieldOf<PretrainMethod>) const { return Kind::string; }
  };
  return std::visit(KindOf{}, field);
}

KeySpec& KeySpec::at_least(double lo) {
  min = lo;
  return *this;
}

KeySpec& KeySpec::above(double lo) {
  min = lo;
  min_open = true;
  return *this;
}

KeySpec& KeySpec::within(double lo, double hi) {
  min = lo;
  max = hi;
  return *this;
}

KeySpec& KeySpec::within_half_open(double lo, double hi) {
  within(lo, hi);
  max_open = true;
  return *this;
}

KeySpec& KeySpec::one_of(std::vector<std::string> values) {
  choices = std::move(values);
  return *this;
}

KeySpec& KeySpec::needed() {
  required = true;
  return *this;
}

KeySpec& KeySpec::not_empty() {
  non_empty = true;
  return *this;
}

KeySpec& KeySpec::defaults_by_method(Value byol, Value dual_contrastive, Value simclr) {
  by_method = std::array<Value, 3>{std::move(byol), std::move(dual_contrastive), std::move(simclr)};
  return *this;
}

namespace {

// &in<&PretrainConfig::train, &TrainConfig::lr>: the field train.lr of a config.
template <auto Section, auto Member>
auto& in(PretrainConfig& c) {
  return (c.*Section).*Member;
}
template <auto Member>
auto& top(PretrainConfig& c) {
  return c.*Member;
}

constexpr auto kData = &PretrainConfig::data;
constexpr auto kModel = &PretrainConfig::model;
constexpr auto kByol = &PretrainConfig::byol;
constexpr auto kContrastive = &PretrainConfig::contrastive;
constexpr auto kTrain = &PretrainConfig::train;
constexpr auto kLog = &PretrainConfig::log;
constexpr auto kCheckpoint = &PretrainConfig::checkpoint;
constexpr auto kDistributed = &PretrainConfig::distributed;

KeySpec key(std::string name, Field field, std::string doc) {
  KeySpec k;
  k.key = std::move(name);
  k.field = field;
  k.doc = std::move(doc);
  return k;
}

std::vector<std::string> method_names() {
  return {pretrain_method_name(PretrainMethod::byol), pretrain_method_name(PretrainMethod::dual_contrastive),
          pretrain_method_name(PretrainMethod::simclr)};
}

// "auto" and the layout names rsd uses (data/layouts.h), in the enum's order.
std::vector<std::string> layout_names() {
  std::vector<std::string> names{"auto"};
  for (int i = 0; i <= static_cast<int>(data::Layout::single_folder); ++i) {
    names.push_back(data::layout_name(static_cast<data::Layout>(i)));
  }
  return names;
}

std::vector<KeySpec> make_schema() {
  return {
      key("method", &top<&PretrainConfig::method>,
          "byol: RS-BYOL (bands and sensors of one place as views); dual-contrastive: an S1 and an S2 "
          "encoder, InfoNCE between them; simclr: augmented views, InfoNCE")
          .one_of(method_names()),
      key("seed", &top<&PretrainConfig::seed>,
          "seeds initialization, views and sample order: the same seed and config give the same run")
          .at_least(0),
      key("device", &top<&PretrainConfig::device>, "auto: the first GPU when there is one, else the CPU")
          .one_of({"auto", "cpu", "cuda", "cuda:N"}),

      key("data.path", &in<kData, &DataConfig::path>,
          "the dataset folder or shard dataset: a folder in any layout rsd detects, a CSV manifest, or a "
          "folder with dataset.json")
          .needed(),
      key("data.layout", &in<kData, &DataConfig::layout>, "the dataset's layout; auto: detected from its files")
          .one_of(layout_names()),
      key("data.patch_size", &in<kData, &DataConfig::patch_size>, "views are patch_size x patch_size pixels")
          .at_least(8),
      key("data.repeat", &in<kData, &DataConfig::repeat>,
          "passes over the dataset per epoch, each with its own random views (small datasets)")
          .at_least(1),
      key("data.workers", &in<kData, &DataConfig::workers>, "loader threads (decoding and augmentation)")
          .at_least(1),
      key("data.prefetch", &in<kData, &DataConfig::prefetch>, "batches being filled or ready ahead of the step")
          .at_least(1),
      key("data.statistics", &in<kData, &DataConfig::statistics>,
          "per-band statistics JSON for standardization; \"\": the shard dataset's, or computed at start"),

      key("model.arch", &in<kModel, &ModelConfig::arch>, "the ResNet encoder")
          .one_of({"resnet18", "resnet34", "resnet50"}),
      key("model.stem", &in<kModel, &ModelConfig::stem>,
          "standard: 7x7 stride-2 conv and max-pool (ImageNet's); small-patch: 3x3 stride-1 conv, no max-pool")
          .one_of({"standard", "small-patch"}),
      key("model.width", &in<kModel, &ModelConfig::width>,
          "channels of the stem and first stage, doubled at each later stage (64: torchvision's ResNets)")
          .at_least(1),
      key("model.zero_init_residual", &in<kModel, &ModelConfig::zero_init_residual>,
          "each residual branch's last batch-norm scale starts at 0"),
      key("model.projector_hidden", &in<kModel, &ModelConfig::projector_hidden>, "hidden width of the projector MLP")
          .at_least(1)
          .defaults_by_method(int64_t{4096}, int64_t{2048}, int64_t{2048}),
      key("model.projector_out", &in<kModel, &ModelConfig::projector_out>, "output width of the projector")
          .at_least(1)
          .defaults_by_method(int64_t{256}, int64_t{128}, int64_t{128}),
      key("model.predictor_hidden", &in<kModel, &ModelConfig::predictor_hidden>,
          "hidden width of BYOL's predictor MLP (its output width is projector_out)")
          .at_least(1),

      key("byol.view_mode", &in<kByol, &ByolConfig::view_mode>,
          "each view is one band (single-channel) or three bands (three-channel) of the place")
          .one_of({"single-channel", "three-channel"}),
      key("byol.modality", &in<kByol, &ByolConfig::modality>,
          "bands views are drawn from: ms (the ten 10 m and 20 m S2 bands) or ms+sar (and S1 VV, VH)")
          .one_of({"ms", "ms+sar"}),
      key("byol.tau_base", &in<kByol, &ByolConfig::tau_base>,
          "target network EMA rate at the first step, raised to 1 on a cosine; 0: no momentum (SimSiam-like)")
          .within(0, 1),

      key("contrastive.temperature", &in<kContrastive, &ContrastiveConfig::temperature>,
          "InfoNCE temperature (the initial value when learnable)")
          .above(0),
      key("contrastive.learnable_temperature", &in<kContrastive, &ContrastiveConfig::learnable_temperature>,
          "the temperature is a trained parameter"),

      key("train.batch_size", &in<kTrain, &TrainConfig::batch_size>,
          "samples per forward pass over all ranks (each of W ranks takes batch_size / W); an optimizer step "
          "sees batch_size x grad_accum")
          .at_least(2),
      key("train.steps", &in<kTrain, &TrainConfig::steps>, "optimizer steps; 0: epochs decides").at_least(0),
      key("train.epochs", &in<kTrain, &TrainConfig::epochs>, "passes over the dataset (when steps = 0)")
          .at_least(1),
      key("train.optimizer", &in<kTrain, &TrainConfig::optimizer>,
          "lars (BYOL's and SimCLR's), sgd (momentum) or adamw")
          .one_of({"lars", "sgd", "adamw"}),
      key("train.lr", &in<kTrain, &TrainConfig::lr>,
          "base learning rate, for a batch of 256 when lr_scaling = linear; peak of the warm-up + cosine schedule")
          .at_least(0)
          .defaults_by_method(0.2, 0.3, 0.3),
      key("train.lr_scaling", &in<kTrain, &TrainConfig::lr_scaling>,
          "linear: the peak lr is lr x batch_size x grad_accum / 256; none: lr as given")
          .one_of({"linear", "none"}),
      key("train.final_lr", &in<kTrain, &TrainConfig::final_lr>, "learning rate at the last step (cosine decay)")
          .at_least(0),
      key("train.warmup_fraction", &in<kTrain, &TrainConfig::warmup_fraction>,
          "fraction of the steps with a linear warm-up from 0")
          .within_half_open(0, 1),
      key("train.weight_decay", &in<kTrain, &TrainConfig::weight_decay>,
          "weight decay (not on biases and batch-norm parameters)")
          .at_least(0)
          .defaults_by_method(1.5e-6, 1e-6, 1e-6),
      key("train.momentum", &in<kTrain, &TrainConfig::momentum>, "momentum of sgd and lars").within_half_open(0, 1),
      key("train.beta1", &in<kTrain, &TrainConfig::beta1>, "adamw's first-moment decay").within_half_open(0, 1),
      key("train.beta2", &in<kTrain, &TrainConfig::beta2>, "adamw's second-moment decay").within_half_open(0, 1),
      key("train.adam_eps", &in<kTrain, &TrainConfig::adam_eps>, "adamw's epsilon").above(0),
      key("train.grad_accum", &in<kTrain, &TrainConfig::grad_accum>, "forward/backward passes per optimizer step")
          .at_least(1),
      key("train.grad_clip", &in<kTrain, &TrainConfig::grad_clip>, "maximum global gradient norm; 0: no clipping")
          .at_least(0),
      key("train.precision", &in<kTrain, &TrainConfig::precision>,
          "activation precision; auto: bf16 on a GPU, fp32 on the CPU")
          .one_of({"auto", "fp32", "bf16"}),
      key("train.max_bad_steps", &in<kTrain, &TrainConfig::max_bad_steps>,
          "a step with a NaN or Inf loss or gradient is skipped; training stops after this many in a row")
          .at_least(1),
      key("train.deterministic", &in<kTrain, &TrainConfig::deterministic>,
          "GPU: only cuDNN algorithms that give the same bits every run; false: the fastest"),
      key("train.tf32", &in<kTrain, &TrainConfig::tf32>,
          "GPU: fp32 convolutions may use TF32 tensor cores (precision = \"fp32\" only)"),
      key("train.cudnn_workspace_mb", &in<kTrain, &TrainConfig::cudnn_workspace_mb>,
          "GPU: the most workspace one convolution may use, MiB")
          .at_least(0),

      key("log.out_dir", &in<kLog, &LogConfig::out_dir>, "folder of the run: log, metrics, checkpoints, plot")
          .not_empty(),
      key("log.every", &in<kLog, &LogConfig::every>, "steps between log lines").at_least(1),
      key("log.progress", &in<kLog, &LogConfig::progress>, "a progress bar on the terminal"),
      key("log.plot", &in<kLog, &LogConfig::plot>, "a PNG of the loss curve in out_dir"),

      key("checkpoint.every", &in<kCheckpoint, &CheckpointConfig::every>, "steps between checkpoints").at_least(1),
      key("checkpoint.keep_last", &in<kCheckpoint, &CheckpointConfig::keep_last>,
          "checkpoints kept; older ones are removed")
          .at_least(1),

      key("distributed.backend", &in<kDistributed, &DistributedConfig::backend>,
          "collectives between ranks: auto (nccl on GPUs, mpi on CPUs, single for one process), mpi, nccl or single")
          .one_of({"auto", "mpi", "nccl", "single"}),
      key("distributed.bucket_mb", &in<kDistributed, &DistributedConfig::bucket_mb>,
          "gradients are all-reduced in buckets of this many MiB, each launched during the backward once complete")
          .above(0),
      key("distributed.timeout_s", &in<kDistributed, &DistributedConfig::timeout_s>,
          "seconds a collective may wait for the other ranks before the job ends with an error (a dead rank)")
          .above(0),
      key("distributed.sync_bn", &in<kDistributed, &DistributedConfig::sync_bn>,
          "batch-norm statistics over the global batch (SyncBN); false: each rank's own batch"),
  };
}

}  // namespace

const std::vector<KeySpec>& schema() {
  static const std::vector<KeySpec> table = make_schema();
  return table;
}

const KeySpec* find_key(const std::string& key) {
  for (const KeySpec& k : schema()) {
    if (k.key == key) return &k;
  }
  return nullptr;
}

std::vector<std::string> sections() {
  std::vector<std::string> out;
  for (const KeySpec& k : schema()) {
    const std::string s = k.section();
    if (!s.empty() && (out.empty() || out.back() != s)) out.push_back(s);
  }
  return out;
}

}  // namespace rsd::pretrain::config_schema
