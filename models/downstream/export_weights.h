// `rsd export-weights`: a pretrained encoder's weights as torchvision's ResNet state_dict, in a
// safetensors file for PyTorch users. Names are torchvision's (the checkpoint's prefix such as
// "s2.encoder." stripped: conv1.weight, bn1.running_mean, layer2.0.downsample.0.weight, ...), conv
// weights permuted from rsd's (K, R, S, C) to torchvision's (K, C, R, S), batch-norm running
// statistics included, num_batches_tracked and fc left out (load with strict=True after setting
// fc = Identity). Metadata (all strings): model_id, method, encoder, arch ("resnet50"), stem,
// width, in_channels, bands (JSON list), statistics (data/normalization.h JSON).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"
#include "models/downstream/pretrained_encoder.h"

namespace rsd::downstream {

// The encoder's tensors under torchvision's names, on the CPU, in registration order (parameters,
// then buffers).
std::vector<std::pair<std::string, Tensor>> torchvision_state(const PretrainedEncoder& enc);

// The safetensors metadata described above.
std::map<std::string, std::string> export_metadata(const PretrainedEncoder& enc);

// Loads encoder `which` of `checkpoint` (models/downstream/pretrained_encoder.h; `bands` for RS-BYOL)
// and writes it to `out` atomically. Returns the number of tensors written. `out` is checked before
// the checkpoint is read (check_export_output) and again, with the tensors' size, before writing.
// Non-finite weights are refused by the load (pretrained_encoder.h).
// The output checks of export-weights (engine/output_preflight.h): `out` a file that can be written,
// not the checkpoint or its sidecar, room for estimated_bytes (0: not checked).
void check_export_output(const std::string& checkpoint, const std::string& out, uint64_t estimated_bytes);

int64_t export_weights(const std::string& checkpoint, const std::string& out, const std::string& which,
                       const std::vector<std::string>& bands);

}  // namespace rsd::downstream
