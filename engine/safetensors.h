// The Hugging Face safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}} padded with
// spaces to a multiple of 8, then the tensors' bytes back to back (offsets relative to the data
// start, row-major, little-endian). Python reads these files with safetensors.torch.load_file.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace rsd {

// Writes `tensors` (any device; copied to the host one at a time, never all at once) in the given
// order, with `metadata` as "__metadata__". Names must be unique and non-empty. The file is
// streamed to "<path>.tmp.<pid>" and renamed over `path` when complete (engine/atomic_file.h): on
// any error the old file is untouched and no temporary file remains.
struct SafetensorsWriteOptions {
  // Refuse a floating tensor holding Inf or NaN: an rsd::Error naming the tensor and the count of
  // such values, raised while streaming, so the file is never written (checkpoints, exported weights).
  bool require_finite = false;
};
// Returns the CRC32C of each tensor's stored bytes, in the order written (computed as they stream,
// so that a caller can record them: checkpoints keep them in their sidecar).
std::vector<std::pair<std::string, uint32_t>> write_safetensors(
    const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata = {}, const SafetensorsWriteOptions& options = {});

// The number of Inf and NaN values of a tensor (0 for integer tensors); any device (a CUDA tensor is
// copied to the host), and the index of the first, or -1.
struct NonFiniteCount {
  int64_t count = 0;
  int64_t first = -1;
  double first_value = 0.0;
};
NonFiniteCount count_non_finite(const Tensor& t);

// A safetensors file opened for reading: the header is parsed and validated up front, tensors are
// read one at a time on request (pread). Copies share the open file.
class SafetensorsFile {
 public:
  // Throws rsd::Error naming the file when it is missing, truncated or its header is invalid.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const;
  const std::map<std::string, std::string>& metadata() const;
  std::vector<std::string> names() const;  // in data order
  bool contains(const std::string& name) const;
  // The dtype as rsd knows it; a dtype rsd lacks (I64, BOOL, ...) is an error naming it.
  DType dtype(const std::string& name) const;
  // The dtype as written in the file ("F32", "I64", ...): known for every entry.
  const std::string& stored_dtype(const std::string& name) const;
  const Shape& shape(const std::string& name) const;

  // A new CPU tensor holding the stored values.
  Tensor read(const std::string& name) const;
  // Fills `dst` (any device; shape must equal the stored one), converting the dtype if it differs.
  void read_into(const std::string& name, Tensor& dst) const;
  // CRC32C of the tensor's stored bytes (read in chunks; nothing kept).
  uint32_t crc32c(const std::string& name) const;

  struct Entry {
    std::string name;
    std::string stored_dtype;
    Shape shape;
    uint64_t begin = 0;  // byte offsets relative to the data start
    uint64_t end = 0;
  };
  struct State;

 private:
  explicit SafetensorsFile(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  const Entry& entry(const std::string& name) const;

  std::shared_ptr<const State> state_;
};

}  // namespace rsd
