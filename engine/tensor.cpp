#include "engine/tensor.h"

#include <atomic>
#include <cmath>
#include <cstring>

#include "engine/allocator.h"
#include "engine/copy.h"

namespace rsd {

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Storage::~Storage() {
  if (arena != nullptr) {
    arena->release(data, bytes, arena_generation);  // ignored if the arena was reset since
  } else if (allocator != nullptr) {
    allocator->release(data, bytes);
  }
}

namespace {
std::atomic<bool> g_poison{false};
}  // namespace

void set_poison_new_tensors(bool on) { g_poison = on; }
bool poison_new_tensors() { return g_poison; }

namespace {
std::shared_ptr<TensorImpl> make_impl(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) RSD_CHECK(d >= 0, "tensor shape ", shape_str(shape), " has a negative dimension");
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  auto storage = std::make_shared<Storage>();
  storage->bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  storage->device = device;
  Allocator& alloc = current_allocator(device);
  storage->data = alloc.allocate(storage->bytes);
  storage->allocator = &alloc;
  if (Arena* arena = scoped_arena(device)) {
    storage->arena = arena;
    storage->arena_generation = arena->generation();
  }
  impl->storage = std::move(storage);
  return impl;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  Tensor t(make_impl(shape, dtype, device));
  if (g_poison) fill_(t, is_floating(dtype) ? std::nan("") : (dtype == DType::u8 ? 255.0 : -1.0));
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_(t, value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype, Device device) {
  RSD_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
            " values for shape ", shape_str(shape));
  Tensor host = empty(shape, DType::f64, Device::cpu());
  if (!values.empty()) std::memcpy(host.raw(), values.data(), values.size() * sizeof(double));
  if (dtype == DType::f64 && device.is_cpu()) return host;
  Tensor out = empty(shape, dtype, device);
  out.copy_from(host);
  return out;
}

Tensor Tensor::from_ints(const std::vector<int32_t>& values, const Shape& shape, Device device) {
  RSD_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_ints: ", values.size(),
            " values for shape ", shape_str(shape));
  Tensor host = empty(shape, DType::i32, Device::cpu());
  if (!values.empty()) std::memcpy(host.raw(), values.data(), values.size() * sizeof(int32_t));
  if (device.is_cpu()) return host;
  Tensor out = empty(shape, DType::i32, device);
  out.copy_from(host);
  return out;
}

const Shape& Tensor::shape() const {
  RSD_CHECK(defined(), "use of an undefined tensor");
  return impl_->shape;
}

int64_t Tensor::dim(int i) const {
  const int n = ndim();
  const int k = i < 0 ? i + n : i;
  RSD_CHECK(k >= 0 && k < n, "dimension ", i, " out of range for ", describe());
  return impl_->shape[k];
}

int64_t Tensor::numel() const { return shape_numel(shape()); }

DType Tensor::dtype() const {
  RSD_CHECK(defined(), "use of an undefined tensor");
  return impl_->dtype;
}

Device Tensor::device() const {
  RSD_CHECK(defined(), "use of an undefined tensor");
  return impl_->storage->device;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  return str_cat(dtype_name(dtype()), shape_str(shape()), "@", device().str());
}

void* Tensor::raw() const {
  RSD_CHECK(defined(), "use of an undefined tensor");
  const Storage& s = *impl_->storage;
  RSD_CHECK(s.arena == nullptr || s.arena->generation() == s.arena_generation, "tensor ", describe(),
            " was allocated in a step arena that has been reset since: keep tensors that outlive a step "
            "out of the ArenaScope");
  return s.data;
}

std::vector<double> Tensor::to_host_doubles() const {
  Tensor host = empty(shape(), DType::f64, Device::cpu());
  host.copy_from(*this);
  const double* p = host.data<double>();
  return std::vector<double>(p, p + numel());
}

double Tensor::item() const {
  RSD_CHECK(numel() == 1, "item() needs a one-element tensor, got ", describe());
  return to_host_doubles()[0];
}

void Tensor::copy_from(const Tensor& src) {
  RSD_CHECK(src.shape() == shape(), "copy_from: shape ", src.describe(), " into ", describe());
  copy_convert(src, *this);
}

Tensor Tensor::view(const Shape& new_shape) const {
  RSD_CHECK(shape_numel(new_shape) == numel(), "view: cannot view ", describe(), " as ", shape_str(new_shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = new_shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

bool Tensor::requires_grad() const { return defined() && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool on) {
  RSD_CHECK(!on || is_floating(dtype()), "requires_grad on a non-floating tensor ", describe());
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  RSD_CHECK(defined(), "grad() of an undefined tensor");
  return impl_->grad;
}

void Tensor::set_grad(const Tensor& g) {
  RSD_CHECK(!g.defined() || (g.shape() == shape() && g.device() == device()), "set_grad: ",
            g.describe(), " for ", describe());
  impl_->grad = g;
}

void Tensor::zero_grad() {
  if (impl_->grad.defined()) fill_(impl_->grad, 0.0);
}

}  // namespace rsd
