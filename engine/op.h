// How an op is declared, once, and run: its implementations by backend (a table), and one generic
// apply that checks the inputs, allocates the outputs, runs the backend's forward and records the
// autograd rule on the tape. docs/architecture.md ("Adding an op") is the checklist; the smallest
// op to read is relu (engine/ops/elementwise.cpp, engine/cpu/elementwise.cpp,
// engine/cuda/elementwise.cpp, kernels/elementwise.cu).
//
// 1. Kernels: the functions each backend implements, declared once per op in
//    engine/ops/<op>_kernels.h (every backend file includes it, so a signature that drifts fails
//    to compile):
//      RSD_DECLARE_KERNEL(relu_forward, (const Tensor& x, Tensor& y));
//    declares rsd::cpu::relu_forward (engine/cpu/: the float64-capable reference, the oracle of
//    every test) and, in a CUDA build, rsd::cuda::relu_forward (engine/cuda/, launching kernels/).
// 2. The table: RSD_KERNELS(relu_forward) holds their addresses; calling it with a device runs
//    the implementation of that device's backend (a GPU tensor: CUDA; on the CPU: the reference,
//    or another CPU backend where one implements the kernel and is selected).
// 3. The op: a struct with its name, inputs, non-tensor attributes, checks, outputs, forward and
//    autograd rule (below); apply<Op>(inputs, attrs) does the rest.
#pragma once
#include <array>
#include <cstddef>
#include <string>
#include <utility>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/ops/checks.h"
#include "engine/tensor.h"

namespace rsd {

// The backends an op's table has a slot for. cpu: the reference (f32 and f64, the tests' oracle);
// cuda: hand-written kernels, cuBLAS and cuDNN (f32 and bf16); onednn: an optimized CPU backend.
enum class Backend : int { cpu = 0, cuda = 1, onednn = 2 };
inline constexpr int kBackendCount = 3;
const char* backend_name(Backend b);

// The CPU backend that runs an op whose table implements it (the reference otherwise), for the
// whole process: oneDNN in a build that has it, unless RSD_CPU_BACKEND=reference; tests pin one
// with CpuBackendScope. An implementation may hand a case it does not cover (float64) to the
// reference.
Backend selected_cpu_backend();
// The CPU backends of this build, and the one a name selects ("reference" or "onednn"; an error
// naming the choices otherwise, or when this build lacks it).
bool cpu_backend_available(Backend b);
Backend parse_cpu_backend(const std::string& name);
class CpuBackendScope {
 public:
  explicit CpuBackendScope(Backend b);
  ~CpuBackendScope();
  CpuBackendScope(const CpuBackendScope&) = delete;
  CpuBackendScope& operator=(const CpuBackendScope&) = delete;

 private:
  Backend previous_;
};

// Where an op has two implementations of one computation: `fused`, the hand-written one-pass
// kernel, and `plain`, simple steps with every intermediate materialized (the fused kernel's
// second check and the baseline of its benchmark). Backends with one implementation ignore it.
enum class Variant { fused, plain };
const char* variant_name(Variant v);
Variant parse_variant(const std::string& name);  // "fused" or "plain", else an error naming both

// One kernel's implementations by backend (null where a backend has none).
template <typename Signature>
class Kernels;

template <typename... Args>
class Kernels<void(Args...)> {
 public:
  using Fn = void (*)(Args...);
  constexpr Kernels(const char* name, Fn cpu, Fn cuda, Fn onednn = nullptr) : name_(name), fns_{cpu, cuda, onednn} {}

  const char* name() const { return name_; }
  bool has(Backend b) const { return fns_[static_cast<int>(b)] != nullptr; }
  // The backend that runs this kernel on `device`.
  Backend backend_for(Device device) const {
    if (device.is_cuda()) return Backend::cuda;
    const Backend cpu = selected_cpu_backend();
    return has(cpu) ? cpu : Backend::cpu;
  }
  void operator()(Device device, Args... args) const { run(backend_for(device), std::forward<Args>(args)...); }
  void run(Backend b, Args... args) const {
    const Fn fn = fns_[static_cast<int>(b)];
    RSD_CHECK(fn != nullptr, name_, ": this build of rsd has no ", backend_name(b), " implementation");
    fn(std::forward<Args>(args)...);
  }

 private:
  const char* name_;
  Fn fns_[kBackendCount];
};

// An op's tensors, by position: inputs as the op lists them, outputs with the result first and
// the tensors its backward reads after it.
template <size_t N>
using TensorList = std::array<Tensor, N>;

// How an op names an input in its errors, and whether a gradient flows to it.
struct OpInput {
  const char* name;
  bool differentiable = true;
  bool optional = false;  // may be an undefined tensor (a linear layer without bias)
};

// An op is a struct (engine/ops/elementwise.cpp: relu is the smallest):
//   static constexpr const char* name;                          // in errors and on the tape
//   static constexpr std::array<OpInput, NI> inputs;
//   struct Attrs { ... };                                       // non-tensor arguments
//   static void check(const TensorList<NI>&, const Attrs&);     // beyond defined / same device
//   static TensorList<NO> allocate(const TensorList<NI>&, const Attrs&);
//   static void forward(const TensorList<NI>&, TensorList<NO>&, const Attrs&);
//   // Gradients of the inputs from gy, the gradient of output 0; wanted[i] says which are
//   // needed (undefined tensors elsewhere).
//   static TensorList<NI> backward(const TensorList<NI>&, const TensorList<NO>&, const Tensor& gy,
//                                  const Attrs&, const std::array<bool, NI>& wanted);
// The tensor an op returns and the tape differentiates: output 0 (an op whose outputs are a struct,
// like info_nce's context, overloads op_result for it).
template <size_t N>
const Tensor& op_result(const TensorList<N>& out) {
  return out[0];
}

namespace op_detail {

template <size_t N>
void check_common(const char* op, const std::array<OpInput, N>& spec, const TensorList<N>& in) {
  const Tensor* first = nullptr;
  for (size_t i = 0; i < N; ++i) {
    if (spec[i].optional && !in[i].defined()) continue;
    check::defined(op, spec[i].name, in[i]);
    if (first == nullptr) {
      first = &in[i];
    } else {
      check::same_device(op, *first, in[i]);
    }
  }
}

template <size_t N>
std::array<bool, N> wanted_grads(const std::array<OpInput, N>& spec, const TensorList<N>& in) {
  std::array<bool, N> wanted{};
  if (!grad_enabled()) return wanted;
  for (size_t i = 0; i < N; ++i) wanted[i] = spec[i].differentiable && in[i].defined() && in[i].requires_grad();
  return wanted;
}

}  // namespace op_detail

template <typename Op, size_t NI = std::tuple_size<decltype(Op::inputs)>::value>
auto apply(const TensorList<NI>& in, const typename Op::Attrs& attrs = {}) {
  op_detail::check_common(Op::name, Op::inputs, in);
  Op::check(in, attrs);
  auto out = Op::allocate(in, attrs);
  Op::forward(in, out, attrs);
  const std::array<bool, NI> wanted = op_detail::wanted_grads(Op::inputs, in);
  bool any = false;
  for (bool w : wanted) any = any || w;
  if (any) {
    record(Op::name, {op_result(out)}, [in, out, attrs, wanted] {
      const Tensor& gy = op_result(out).grad();
      const TensorList<NI> grads = Op::backward(in, out, gy, attrs, wanted);
      for (size_t i = 0; i < NI; ++i)
        if (wanted[i] && grads[i].defined()) accumulate_grad(in[i], grads[i]);
    });
  }
  return out;
}

// An output shaped and typed like t, on t's device.
inline Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.dtype(), t.device()); }

}  // namespace rsd

#if RSD_HAVE_ONEDNN
#define RSD_IF_ONEDNN(...) __VA_ARGS__
#define RSD_ONEDNN_KERNEL_ADDRESS(name) &::rsd::onednn::name
#else
#define RSD_IF_ONEDNN(...)
#define RSD_ONEDNN_KERNEL_ADDRESS(name) nullptr
#endif

#if RSD_HAVE_CUDA
#define RSD_IF_CUDA(...) __VA_ARGS__
#define RSD_CUDA_KERNEL_ADDRESS(name) &::rsd::cuda::name
#else
#define RSD_IF_CUDA(...)
#define RSD_CUDA_KERNEL_ADDRESS(name) nullptr
#endif

// Declares kernel `name` with parameters `params` (in parentheses) in every backend this build
// has. At namespace rsd scope, in engine/ops/<op>_kernels.h.
#define RSD_DECLARE_KERNEL(name, params) \
  namespace cpu {                        \
  void name params;                      \
  }                                      \
  RSD_IF_CUDA(namespace cuda { void name params; })

// Declares the oneDNN implementation (engine/onednn/) of a kernel declared with RSD_DECLARE_KERNEL,
// with the reference's signature. Its table is RSD_KERNELS_WITH_ONEDNN.
#define RSD_DECLARE_ONEDNN_KERNEL(name) RSD_IF_ONEDNN(namespace onednn { decltype(::rsd::cpu::name) name; })

// A kernel only CUDA implements: a fused variant whose computation the CPU runs in other steps.
#define RSD_DECLARE_CUDA_KERNEL(name, params) RSD_IF_CUDA(namespace cuda { void name params; })
// A fused kernel CUDA and oneDNN implement (the reference runs the computation in other steps).
#define RSD_DECLARE_CUDA_ONEDNN_KERNEL(name, params) \
  RSD_IF_CUDA(namespace cuda { void name params; }) RSD_IF_ONEDNN(namespace onednn { void name params; })

// A kernel of the CPU backends alone (the reference, and oneDNN where built in): CUDA has no
// entry, and its table (RSD_CPU_KERNELS) says so when run on a GPU tensor.
#define RSD_DECLARE_CPU_KERNEL(name, params) \
  namespace cpu {                            \
  void name params;                          \
  }                                          \
  RSD_DECLARE_ONEDNN_KERNEL(name)

// A kernel only oneDNN implements: a fusion whose computation the other backends run in steps.
#define RSD_DECLARE_ONEDNN_ONLY_KERNEL(name, params) RSD_IF_ONEDNN(namespace onednn { void name params; })

// The table of a kernel declared with RSD_DECLARE_KERNEL.
#define RSD_KERNELS(name) \
  ::rsd::Kernels<decltype(::rsd::cpu::name)>(#name, &::rsd::cpu::name, RSD_CUDA_KERNEL_ADDRESS(name))

// The table of a kernel that oneDNN implements too (RSD_DECLARE_ONEDNN_KERNEL).
#define RSD_KERNELS_WITH_ONEDNN(name)                                                                          \
  ::rsd::Kernels<decltype(::rsd::cpu::name)>(#name, &::rsd::cpu::name, RSD_CUDA_KERNEL_ADDRESS(name), \
                                              RSD_ONEDNN_KERNEL_ADDRESS(name))

// The table of a kernel declared with RSD_DECLARE_CPU_KERNEL.
#define RSD_CPU_KERNELS(name) \
  ::rsd::Kernels<decltype(::rsd::cpu::name)>(#name, &::rsd::cpu::name, nullptr, RSD_ONEDNN_KERNEL_ADDRESS(name))

// The table of a kernel declared with RSD_DECLARE_ONEDNN_ONLY_KERNEL (check has()).
#define RSD_ONEDNN_KERNELS(name, signature) \
  ::rsd::Kernels<signature>(#name, nullptr, nullptr, RSD_ONEDNN_KERNEL_ADDRESS(name))

// The table of a kernel declared with RSD_DECLARE_CUDA_KERNEL (no CPU entry: check has()).
#define RSD_CUDA_KERNELS(name, signature) ::rsd::Kernels<signature>(#name, nullptr, RSD_CUDA_KERNEL_ADDRESS(name))
// The table of a kernel declared with RSD_DECLARE_CUDA_ONEDNN_KERNEL (no reference entry: check has()).
#define RSD_CUDA_ONEDNN_KERNELS(name, signature) \
  ::rsd::Kernels<signature>(#name, nullptr, RSD_CUDA_KERNEL_ADDRESS(name), RSD_ONEDNN_KERNEL_ADDRESS(name))
