// NumPy .npy files (engine/npy.h): the input is a whole file, read with read_npy. A tensor read
// must hold exactly the file's data bytes; written back with write_npy it must read back the same.
#include <cstring>

#include "engine/error.h"
#include "engine/npy.h"
#include "fuzz/fuzz_target.h"

namespace {

constexpr const char* kTarget = "npy";

// numel x element size, or false when it does not fit 64 bits.
bool byte_count(const rsd::Shape& shape, size_t element_bytes, uint64_t* bytes) {
  for (int64_t d : shape) {
    if (d == 0) {
      *bytes = 0;
      return true;
    }
  }
  uint64_t n = element_bytes;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  }
  *bytes = n;
  return true;
}

}  // namespace

RSD_FUZZ_TARGET(npy) {
  using namespace rsd;
  const std::string path = fuzz::input_file(kTarget, "input.npy", data, size);
  Tensor t;
  if (!fuzz::expect_clean(kTarget, {path}, [&] { t = read_npy(path); })) return;

  uint64_t bytes = 0;
  fuzz::require(byte_count(t.shape(), dtype_size(t.dtype()), &bytes), kTarget,
                str_cat("read_npy returned shape ", shape_str(t.shape()), " whose size overflows"));
  fuzz::require(bytes <= size && t.nbytes() == bytes, kTarget,
                str_cat("read_npy returned ", t.describe(), " (", t.nbytes(), " bytes) from a file of ", size,
                        " bytes"));
  // Every byte of the tensor is readable (ASan checks the storage really is that large).
  if (bytes > 0) fuzz::touch(t.raw(), bytes);

  // Written back, it reads back the same.
  const std::string copy = fuzz::scratch_dir(kTarget) + "/copy.npy";
  if (!fuzz::expect_clean(kTarget, {copy}, [&] { write_npy(copy, t); })) return;
  try {
    const Tensor back = read_npy(copy);
    fuzz::require(back.shape() == t.shape() && back.dtype() == t.dtype() &&
                      (bytes == 0 || std::memcmp(back.raw(), t.raw(), bytes) == 0),
                  kTarget, str_cat("write_npy then read_npy changed ", t.describe(), " into ", back.describe()));
  } catch (const Error& e) {
    fuzz::finding(kTarget, str_cat("write_npy wrote ", t.describe(), " into a file read_npy rejects: ", e.what()));
  }
}
