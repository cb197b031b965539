// `rsd export-weights`: a pretrained encoder's weights under torchvision's ResNet names
// (models/downstream/export_weights.h).
#include "models/downstream/export_weights.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tools/commands/commands.h"

namespace rsd::commands {

void add_export_weights_command(CLI::App& app) {
  struct Args {
    std::string checkpoint, out, encoder;
    std::vector<std::string> bands;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "export-weights", "Write a pretrained encoder's weights under torchvision's ResNet names (safetensors)");
  cmd->add_option("CKPT", a->checkpoint, "A pretraining checkpoint (.safetensors) or its folder")->required();
  cmd->add_option("OUT", a->out, "The output .safetensors file")->required();
  cmd->add_option("--encoder", a->encoder,
                  "Which encoder: online (byol, simclr), s1 or s2 (dual-contrastive; default s2)");
  cmd->add_option("--bands", a->bands, "Bands an RS-BYOL encoder reads (recorded in the metadata)")->delimiter(',');
  cmd->callback([a] {
    const int64_t n = downstream::export_weights(a->checkpoint, a->out, a->encoder, a->bands);
    std::printf("wrote %s (%lld tensors)\n", a->out.c_str(), static_cast<long long>(n));
  });
}

}  // namespace rsd::commands
