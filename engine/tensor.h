// Tensor: a shape, a dtype, a device and contiguous row-major storage shared between views.
// Activations are NHWC (channels last) on every backend. A tensor also carries the autograd
// state of the tape (requires_grad, its gradient); see engine/autograd.h.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"

namespace rsd {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

// Testing aid: while on, every new tensor is filled with NaN (integers with -1 bit patterns), so an
// op that leaves an element of its output unwritten is caught by the parity tests.
void set_poison_new_tensors(bool on);
bool poison_new_tensors();

class Allocator;
class Arena;

// Owns one allocation; returns it to the allocator it came from.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device;
  Allocator* allocator = nullptr;
  Arena* arena = nullptr;  // set when the memory is a step arena's
  uint64_t arena_generation = 0;
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();
};

struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialized memory from the current allocator of `device` (the scoped arena, or the pool).
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype, Device device = Device::cpu());
  // Copies host values (converted to `dtype`) into a new tensor on `device`.
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype,
                            Device device = Device::cpu());
  static Tensor from_ints(const std::vector<int32_t>& values, const Shape& shape,
                          Device device = Device::cpu());

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim(int i) const;  // negative i counts from the end
  int ndim() const { return static_cast<int>(shape().size()); }
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  DType dtype() const;
  Device device() const;
  bool is_cuda() const { return device().is_cuda(); }
  // "f32[2,3,4]@cuda:0": used in every error message about a tensor.
  std::string describe() const;

  // Raw element pointer; throws if the tensor's arena was reset since it was allocated.
  void* raw() const;
  template <typename T>
  T* data() const {
    RSD_CHECK(dtype() == dtype_of<T>(), "tensor ", describe(), " accessed as ", dtype_name(dtype_of<T>()));
    return static_cast<T*>(raw());
  }

  // Every element converted to double, copied to the host (for tests, checks and printing).
  std::vector<double> to_host_doubles() const;
  // The single element of a one-element tensor, as double.
  double item() const;
  // Copies `src` (same shape; any dtype and device) into this tensor, converting. No autograd.
  void copy_from(const Tensor& src);
  // A new tensor with the same shape sharing this storage (no autograd: see ops reshape()).
  Tensor view(const Shape& shape) const;

  // Autograd state.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on);
  Tensor grad() const;
  void set_grad(const Tensor& g);
  void zero_grad();

  TensorImpl* impl() const { return impl_.get(); }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  bool is_leaf = true;  // false for outputs of recorded ops: their gradients are transient
  Tensor grad;
};

}  // namespace rsd
