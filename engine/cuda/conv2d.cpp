#include "engine/ops/conv2d_kernels.h"

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "engine/allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/conv_workspace.h"
#include "engine/gpu_options.h"
#include "engine/shutdown.h"

namespace rsd::cuda {

namespace {

// Descriptors are made once per problem (shape, dtype, direction, math settings) and kept with its
// algorithm choice, so a call does a lookup under a reader lock and no descriptor work; the cache is
// emptied by rsd::shutdown() (engine/shutdown.h), before the library unloads (cuDNN objects
// destroyed after that are a classic crash at exit).
class TensorDesc {
 public:
  TensorDesc(cudnnDataType_t type, int n, int h, int w, int c, const std::string& what) {
    RSD_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_), what);
    RSD_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NHWC, type, n, c, h, w), what);
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(desc_); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

class FilterDesc {
 public:
  // Dims are given (K, C, R, S) as cuDNN wants; with the NHWC format the memory is (K, R, S, C).
  FilterDesc(cudnnDataType_t type, int k, int r, int s, int c, const std::string& what) {
    RSD_CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_), what);
    RSD_CUDNN_CHECK(cudnnSetFilter4dDescriptor(desc_, type, CUDNN_TENSOR_NHWC, k, c, r, s), what);
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(desc_); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
  cudnnFilterDescriptor_t get() const { return desc_; }

 private:
  cudnnFilterDescriptor_t desc_ = nullptr;
};

class ConvDesc {
 public:
  ConvDesc(int stride, int pad, cudnnMathType_t math, const std::string& what) {
    RSD_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_), what);
    RSD_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(desc_, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                    CUDNN_DATA_FLOAT),
                    what);
    RSD_CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, math), what);
  }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(desc_); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
  cudnnConvolutionDescriptor_t get() const { return desc_; }

 private:
  cudnnConvolutionDescriptor_t desc_ = nullptr;
};

enum class Direction : int { forward, backward_data, backward_filter };

const char* direction_name(Direction d) {
  switch (d) {
    case Direction::forward: return "conv2d forward";
    case Direction::backward_data: return "conv2d backward (data)";
    case Direction::backward_filter: return "conv2d backward (filter)";
  }
  return "conv2d";
}

// One convolution's sizes and settings, from x (N,H,W,C) and w (K,R,S,C).
struct ConvProblem {
  Direction direction;
  int device;
  DType dtype;
  int n, h, w, c, k, r, s, p, q, stride, pad;
  bool deterministic, tf32;

  std::string what() const {
    return str_cat(direction_name(direction), ": x ", dtype_name(dtype), shape_str({n, h, w, c}), " w ",
                   dtype_name(dtype), shape_str({k, r, s, c}), " y ", shape_str({n, p, q, k}), " stride ", stride,
                   " padding ", pad, " on cuda:", device);
  }
  std::array<int, 16> key() const {
    return {static_cast<int>(direction), device, static_cast<int>(dtype), n, h, w, c, k, r, s, p, q, stride, pad,
            deterministic, tf32};
  }
  cudnnDataType_t data_type() const { return dtype == DType::bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT; }
  // bf16 uses tensor cores. f32 keeps FMA kernels unless TF32 was allowed (GpuMathOptions::tf32):
  // TF32 products would break the f32 path's parity with the CPU.
  bool tensor_ops() const { return dtype == DType::bf16 || tf32; }
  cudnnMathType_t search_math() const { return tensor_ops() ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH; }
};

ConvProblem make_problem(Direction dir, const Tensor& x, const Tensor& w, const Tensor& y, int stride, int pad) {
  RSD_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::bf16, direction_name(dir),
            ": dtype ", dtype_name(x.dtype()), " is not supported on the CUDA backend (f32 and bf16 are): x ",
            x.describe());
  const auto i = [](int64_t v) { return static_cast<int>(v); };
  ConvProblem pr{};
  pr.direction = dir;
  pr.device = x.device().index;
  pr.dtype = x.dtype();
  pr.n = i(x.dim(0)), pr.h = i(x.dim(1)), pr.w = i(x.dim(2)), pr.c = i(x.dim(3));
  pr.k = i(w.dim(0)), pr.r = i(w.dim(1)), pr.s = i(w.dim(2));
  pr.p = i(y.dim(1)), pr.q = i(y.dim(2));
  pr.stride = stride;
  pr.pad = pad;
  const GpuMathOptions options = gpu_math_options();
  pr.deterministic = options.deterministic;
  pr.tf32 = options.tf32;
  return pr;
}

// The descriptors of one call, built with the math type the cached algorithm was measured with.
struct ConvDescriptors {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  ConvDescriptors(const ConvProblem& pr, cudnnMathType_t math, const std::string& what)
      : x(pr.data_type(), pr.n, pr.h, pr.w, pr.c, what),
        y(pr.data_type(), pr.n, pr.p, pr.q, pr.k, what),
        w(pr.data_type(), pr.k, pr.r, pr.s, pr.c, what),
        conv(pr.stride, pr.pad, math, what) {}
};

struct AlgoChoice {
  int algo = 0;
  size_t workspace_bytes = 0;
  cudnnMathType_t math = CUDNN_FMA_MATH;
};

// A problem's choice and the descriptors built with its math type, made once.
struct CachedConv {
  AlgoChoice choice;
  ConvDescriptors descriptors;
  CachedConv(const AlgoChoice& c, const ConvProblem& pr)
      : choice(c), descriptors(pr, c.math, pr.what()) {}
};

std::shared_mutex g_cache_mutex;
std::map<std::array<int, 16>, std::unique_ptr<CachedConv>> g_cache;

void clear_cache() {
  std::unique_lock<std::shared_mutex> lock(g_cache_mutex);
  g_cache.clear();
}

// The fastest successful result of a Find (cuDNN sorts them by time) that is deterministic when
// that is asked for. The search's math type stands for f32 without TF32, whatever the result
// reports, since the search was restricted to FMA kernels.
template <typename Perf>
AlgoChoice pick_fastest(const Perf* perf, int count, const ConvProblem& pr, const std::string& what) {
  int deterministic_skipped = 0;
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    if (pr.deterministic && perf[i].determinism != CUDNN_DETERMINISTIC) {
      ++deterministic_skipped;
      continue;
    }
    AlgoChoice choice;
    choice.algo = static_cast<int>(perf[i].algo);
    choice.workspace_bytes = perf[i].memory;
    choice.math = pr.tensor_ops() ? perf[i].mathType : CUDNN_FMA_MATH;
    return choice;
  }
  fail(what, ": cuDNN found no algorithm that runs (", count, " tried",
       deterministic_skipped > 0 ? str_cat(", ", deterministic_skipped, " of them not deterministic: set "
                                           "train.deterministic = false to allow those")
                                 : std::string(),
       ")");
}

// Checks once per shape that cuDNN computes the output size conv2d allocated.
void check_output_dims(const ConvDescriptors& d, const ConvProblem& pr, const std::string& what) {
  int n = 0, k = 0, p = 0, q = 0;
  RSD_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(d.conv.get(), d.x.get(), d.w.get(), &n, &k, &p, &q), what);
  RSD_CHECK(n == pr.n && k == pr.k && p == pr.p && q == pr.q, what, ": cuDNN computes output ",
            shape_str({n, p, q, k}), " (NHWC)");
}

// Runs cudnnFind*AlgorithmEx on the call's real buffers (x, w, y: the output one is overwritten),
// offering at most the workspace cap, so every algorithm it returns fits the cap.
AlgoChoice find_algorithm(const ConvProblem& pr, void* x, void* w, void* y, const std::string& what) {
  const ConvDescriptors d(pr, pr.search_math(), what);
  check_output_dims(d, pr, what);
  const size_t cap = gpu_math_options().cudnn_workspace_bytes;
  // The search buffer comes from the pool, not the step arena, and goes back at once: it is
  // needed once per shape and must not raise the arena's high-water mark.
  Tensor workspace;
  {
    ArenaSuspend outside_arena;
    workspace = Tensor::empty({static_cast<int64_t>(cap)}, DType::u8, Device::cuda(pr.device));
  }
  void* ws = cap > 0 ? workspace.raw() : nullptr;
  cudnnHandle_t handle = context(pr.device).cudnn;
  int returned = 0;
  switch (pr.direction) {
    case Direction::forward: {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      RSD_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(handle, d.x.get(), x, d.w.get(), w, d.conv.get(),
                                                             d.y.get(), y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                             &returned, perf, ws, cap),
                      what);
      return pick_fastest(perf, returned, pr, what);
    }
    case Direction::backward_data: {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      RSD_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(handle, d.w.get(), w, d.y.get(), y, d.conv.get(),
                                                                  d.x.get(), x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                                  &returned, perf, ws, cap),
                      what);
      return pick_fastest(perf, returned, pr, what);
    }
    case Direction::backward_filter: {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      RSD_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
                          handle, d.x.get(), x, d.y.get(), y, d.conv.get(), d.w.get(), w,
                          CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned, perf, ws, cap),
                      what);
      return pick_fastest(perf, returned, pr, what);
    }
  }
  fail(what, ": unknown direction");
}

// The cached entry for this problem, searched on first use. The lock is not held during the
// search: two threads racing on a new shape both search, the first to store wins.
const CachedConv& cached_conv(const ConvProblem& pr, void* x, void* w, void* y) {
  {
    std::shared_lock<std::shared_mutex> lock(g_cache_mutex);
    const auto it = g_cache.find(pr.key());
    if (it != g_cache.end()) return *it->second;
  }
  const std::string what = pr.what();
  auto entry = std::make_unique<CachedConv>(find_algorithm(pr, x, w, y, what), pr);
  std::unique_lock<std::shared_mutex> lock(g_cache_mutex);
  if (g_cache.empty()) on_shutdown(ShutdownPhase::memory, "free the cuDNN descriptors", clear_cache);
  return *g_cache.emplace(pr.key(), std::move(entry)).first->second;
}

// One persistent workspace per device, shared by every convolution (they run in order on the
// device's one stream, so sharing is safe). It grows to the largest need among the chosen
// algorithms, which the cap bounds; in steady state it never changes, so a step allocates nothing
// for cuDNN and the step arena holds only tensors.
struct DeviceWorkspace {
  std::mutex mutex;
  Tensor buffer;
};
DeviceWorkspace g_workspaces[64];

void release_workspaces() {
  for (DeviceWorkspace& ws : g_workspaces) {
    std::lock_guard<std::mutex> lock(ws.mutex);
    ws.buffer = Tensor();
  }
}

void* workspace(int device, size_t bytes) {
  if (bytes == 0) return nullptr;
  DeviceWorkspace& ws = g_workspaces[device];
  std::lock_guard<std::mutex> lock(ws.mutex);
  if (!ws.buffer.defined() || static_cast<size_t>(ws.buffer.numel()) < bytes) {
    if (!ws.buffer.defined()) on_shutdown(ShutdownPhase::memory, "free the cuDNN workspaces", release_workspaces);
    ws.buffer = Tensor();  // back to the pool first: stream order makes its reuse safe
    ArenaSuspend persistent;
    ws.buffer = Tensor::empty({static_cast<int64_t>(bytes)}, DType::u8, Device::cuda(device));
  }
  return ws.buffer.raw();
}

// Bytes the device's cuDNN workspace holds now (the memory report's figure).
size_t workspace_bytes(int device) {
  DeviceWorkspace& ws = g_workspaces[device];
  std::lock_guard<std::mutex> lock(ws.mutex);
  return ws.buffer.defined() ? static_cast<size_t>(ws.buffer.numel()) : 0;
}

// Buffers of one call: x (N,H,W,C), w (K,R,S,C), y (N,P,Q,K); which of them is written depends on
// the direction (y forward, x backward data, w backward filter). Error messages are formatted
// only on failure (the check macros evaluate their message arguments then).
void run(const ConvProblem& pr, void* x, void* w, void* y) {
  cudnnHandle_t handle = context(pr.device).cudnn;
  const CachedConv& conv = cached_conv(pr, x, w, y);
  const AlgoChoice& choice = conv.choice;
  const ConvDescriptors& d = conv.descriptors;
  void* ws = workspace(pr.device, choice.workspace_bytes);
  const float alpha = 1.0f, beta = 0.0f;
  switch (pr.direction) {
    case Direction::forward:
      RSD_CUDNN_CHECK(cudnnConvolutionForward(handle, &alpha, d.x.get(), x, d.w.get(), w, d.conv.get(),
                                              static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo), ws,
                                              choice.workspace_bytes, &beta, d.y.get(), y),
                      pr.what());
      return;
    case Direction::backward_data:
      RSD_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &alpha, d.w.get(), w, d.y.get(), y, d.conv.get(),
                                                   static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo), ws,
                                                   choice.workspace_bytes, &beta, d.x.get(), x),
                      pr.what());
      return;
    case Direction::backward_filter:
      RSD_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle, &alpha, d.x.get(), x, d.y.get(), y, d.conv.get(),
                                                     static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo), ws,
                                                     choice.workspace_bytes, &beta, d.w.get(), w),
                      pr.what());
      return;
  }
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, int stride, int padding) {
  run(make_problem(Direction::forward, x, w, y, stride, padding), x.raw(), w.raw(), y.raw());
}

void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& dx, int stride, int padding) {
  run(make_problem(Direction::backward_data, dx, w, gy, stride, padding), dx.raw(), w.raw(), gy.raw());
}

void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& dw, int stride, int padding) {
  run(make_problem(Direction::backward_filter, x, dw, gy, stride, padding), x.raw(), dw.raw(), gy.raw());
}

size_t cudnn_workspace_bytes(int device) { return workspace_bytes(device); }

}  // namespace rsd::cuda
