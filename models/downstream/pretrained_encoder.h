// A pretrained encoder taken out of a pretraining checkpoint, for downstream use (embeddings,
// exported weights, probes): the ResNet with its weights in a frozen registry, the bands it
// reads in order, and the band statistics its inputs were normalized with.
//
// Which encoder: byol -> "online" (online.encoder.*), dual-contrastive -> "s1" or "s2"
// (s1.encoder.*, s2.encoder.*), simclr -> "online" (encoder.*). Bands: the dual encoder's and
// SimCLR's views hold fixed bands (the checkpoint's sidecar lists them); RS-BYOL's views draw their
// bands per sample, so its encoder reads any band (1 channel, or 3): the caller names them
// (`bands`), e.g. {"B04"} for one band of a single-channel encoder.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/normalization.h"
#include "engine/output_preflight.h"
#include "engine/params.h"
#include "models/resnet.h"

namespace rsd::downstream {

struct PretrainedEncoder {
  std::unique_ptr<ParameterRegistry> params;  // frozen: no gradients
  std::unique_ptr<models::ResNet> net;        // run it with training = false
  // On the CPU: net with its batch norms folded into the convolutions (models/folded.h), built at
  // load; features and feature_map run it. Null on a GPU (the op has no CUDA kernel).
  std::shared_ptr<const models::FoldedResNet> folded;
  std::vector<std::string> bands;             // input channel k reads bands[k]
  data::BandStatistics statistics;            // the pretraining data's
  std::string method;                         // "byol", "dual-contrastive", "simclr", or "random"
  std::string which;                          // "online", "s1", "s2"
  std::string prefix;                         // its parameters' prefix in the checkpoint
  std::string model_id;                       // "<checkpoint file>@step <N>", or "random(seed N)"
  int64_t patch = 0;                          // the view size it was trained on

  // x: (N, H, W, C) normalized -> (N, feature_dim) pooled features, eval-mode batch norm, no tape.
  Tensor features(const Tensor& x) const;
  // x: (N, H, W, C) normalized -> the last stage's feature map (ResNet::feature_map), eval mode.
  Tensor feature_map(const Tensor& x) const;
  // Builds `folded` from net's weights as they are now (on a CPU encoder; a no-op on a GPU).
  void fold_for_inference();
};

// Loads encoder `which` ("" = the method's default: online, or s2 for dual-contrastive) from a
// checkpoint file or directory onto `device`. `bands`: required for RS-BYOL (its views have no
// fixed bands); for the others, empty means the checkpoint's bands, or a list equal to them.
// Errors name the checkpoint and say what is valid.
// `checkpoint` may also be a file written by `rsd export-weights` (export_weights.h): the encoder
// it holds (its metadata gives the architecture, bands and statistics; conv weights are converted
// back from torchvision's layout), `which` empty or that encoder's name. Any other safetensors file
// without a checkpoint sidecar is an error saying what it is and what to give.
// Every tensor read must be finite: Inf or NaN (a diverged run, a damaged file) is an error naming
// the file, the tensor and how many values, before anything is computed.
PretrainedEncoder load_pretrained_encoder(const std::string& checkpoint, const std::string& which,
                                          const std::vector<std::string>& bands, Device device);

// The files a command reading `checkpoint` reads, which its outputs must not overwrite
// (engine/output_preflight.h): the file and its sidecar, or the checkpoint files of a folder.
std::vector<ProtectedInput> checkpoint_inputs(const std::string& checkpoint);

// The same architecture with fresh random weights (seeded), for the random-init baseline.
PretrainedEncoder random_like(const PretrainedEncoder& trained, uint64_t seed);

}  // namespace rsd::downstream
