// safetensors files (engine/safetensors.h): the input is a whole file (8-byte header length, JSON
// header, data). It is opened, every tensor read (and read into a tensor of another dtype), then
// loaded as a checkpoint (engine/checkpoint.h: its __metadata__ step against a sidecar saying 3).
#include <optional>

#include "engine/checkpoint.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "fuzz/fuzz_target.h"

namespace {

constexpr const char* kTarget = "safetensors";

}  // namespace

RSD_FUZZ_TARGET(safetensors) {
  using namespace rsd;
  static const bool sidecar_written = [] {
    const std::string sidecar = "{\"step\": 3}\n";
    fuzz::write_file(fuzz::scratch_dir(kTarget) + "/step-00000003.json", sidecar.data(), sidecar.size());
    return true;
  }();
  (void)sidecar_written;
  const std::string path = fuzz::input_file(kTarget, "step-00000003.safetensors", data, size);

  std::optional<SafetensorsFile> file;
  if (fuzz::expect_clean(kTarget, {path}, [&] { file.emplace(SafetensorsFile::open(path)); })) {
    uint64_t total = 0;
    for (const std::string& name : file->names()) {
      fuzz::require(file->contains(name), kTarget, str_cat("names() lists \"", name, "\" but contains() denies it"));
      const Shape shape = file->shape(name);
      (void)file->stored_dtype(name);
      Tensor t;
      if (!fuzz::expect_clean(kTarget, {path}, [&] { t = file->read(name); })) continue;  // a dtype rsd lacks
      fuzz::require(t.shape() == shape && t.nbytes() <= size, kTarget,
                    str_cat("tensor \"", name, "\" read as ", t.describe(), " from a file of ", size, " bytes"));
      total += t.nbytes();
      fuzz::require(total <= size, kTarget, str_cat("the tensors hold more bytes than the file (", size, ")"));
      if (t.nbytes() > 0) fuzz::touch(t.raw(), t.nbytes());
      if (t.numel() <= (int64_t{1} << 16)) {
        Tensor other = Tensor::empty(shape, t.dtype() == DType::f32 ? DType::f64 : DType::f32);
        fuzz::expect_clean(kTarget, {path}, [&] { file->read_into(name, other); });
      }
    }
    for (const auto& [key, value] : file->metadata()) (void)key.size(), (void)value.size();
  }

  // The same file as a checkpoint's weights.
  fuzz::expect_clean(kTarget, {path}, [&] {
    const LoadedCheckpoint ckpt = load_checkpoint(path);
    fuzz::require(ckpt.step == 3, kTarget, str_cat("load_checkpoint accepted step ", ckpt.step, " for step 3"));
  });
}
