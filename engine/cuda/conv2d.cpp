#include "engine/ops/conv2d_kernels.h"

#include <array>
#include <map>
#include <mutex>
#include <string>

#include "engine/allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"

namespace rsd::cuda {

namespace {

// Descriptors are created and destroyed per call: that is host-only work of a few microseconds,
// and it keeps the algorithm cache a map of plain values that needs no cleanup at exit (cuDNN
// objects destroyed after the library unloads are a classic crash).
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

  std::string what() const {
    return str_cat(direction_name(direction), ": x ", dtype_name(dtype), shape_str({n, h, w, c}), " w ",
                   dtype_name(dtype), shape_str({k, r, s, c}), " y ", shape_str({n, p, q, k}), " stride ", stride,
                   " padding ", pad, " on cuda:", device);
  }
  std::array<int, 14> key() const {
    return {static_cast<int>(direction), device, static_cast<int>(dtype), n, h, w, c, k, r, s, p, q, stride, pad};
  }
  cudnnDataType_t data_type() const { return dtype == DType::bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT; }
  // f32 is restricted to FMA kernels (TF32 would break parity with the CPU); bf16 may use tensor cores.
  cudnnMathType_t search_math() const { return dtype == DType::bf16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH; }
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

std::mutex g_cache_mutex;
std::map<std::array<int, 14>, AlgoChoice> g_cache;

constexpr size_t kSearchWorkspaceBytes = size_t{256} << 20;

// The fastest successful result of a Find (cuDNN sorts them by time). f32 runs keep FMA math
// whatever the result reports, since the search was already restricted to FMA kernels.
template <typename Perf>
AlgoChoice pick_fastest(const Perf* perf, int count, const ConvProblem& pr, const std::string& what) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    AlgoChoice choice;
    choice.algo = static_cast<int>(perf[i].algo);
    choice.workspace_bytes = perf[i].memory;
    choice.math = pr.dtype == DType::bf16 ? perf[i].mathType : CUDNN_FMA_MATH;
    return choice;
  }
  fail(what, ": cuDNN found no algorithm that runs (", count, " tried)");
}

// Checks once per shape that cuDNN computes the output size conv2d allocated.
void check_output_dims(const ConvDescriptors& d, const ConvProblem& pr, const std::string& what) {
  int n = 0, k = 0, p = 0, q = 0;
  RSD_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(d.conv.get(), d.x.get(), d.w.get(), &n, &k, &p, &q), what);
  RSD_CHECK(n == pr.n && k == pr.k && p == pr.p && q == pr.q, what, ": cuDNN computes output ",
            shape_str({n, p, q, k}), " (NHWC)");
}

// Runs cudnnFind*AlgorithmEx on the call's real buffers (x, w, y: the output one is overwritten).
AlgoChoice find_algorithm(const ConvProblem& pr, void* x, void* w, void* y, const std::string& what) {
  const ConvDescriptors d(pr, pr.search_math(), what);
  check_output_dims(d, pr, what);
  // The search buffer comes from the pool, not the step arena: it is needed once per shape and
  // must not raise the arena's high-water mark for every later step.
  Tensor workspace;
  {
    ArenaSuspend outside_arena;
    workspace = Tensor::empty({static_cast<int64_t>(kSearchWorkspaceBytes)}, DType::u8, Device::cuda(pr.device));
  }
  cudnnHandle_t handle = context(pr.device).cudnn;
  int returned = 0;
  switch (pr.direction) {
    case Direction::forward: {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      RSD_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
                          handle, d.x.get(), x, d.w.get(), w, d.conv.get(), d.y.get(), y,
                          CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf, workspace.raw(), kSearchWorkspaceBytes),
                      what);
      return pick_fastest(perf, returned, pr, what);
    }
    case Direction::backward_data: {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      RSD_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
                          handle, d.w.get(), w, d.y.get(), y, d.conv.get(), d.x.get(), x,
                          CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned, perf, workspace.raw(),
                          kSearchWorkspaceBytes),
                      what);
      return pick_fastest(perf, returned, pr, what);
    }
    case Direction::backward_filter: {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      RSD_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
                          handle, d.x.get(), x, d.y.get(), y, d.conv.get(), d.w.get(), w,
                          CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned, perf, workspace.raw(),
                          kSearchWorkspaceBytes),
                      what);
      return pick_fastest(perf, returned, pr, what);
    }
  }
  fail(what, ": unknown direction");
}

// The cached choice for this problem, searched on first use. The lock is not held during the
// search: two threads racing on a new shape both search and store the same kind of answer.
AlgoChoice algorithm_for(const ConvProblem& pr, void* x, void* w, void* y, const std::string& what) {
  {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    const auto it = g_cache.find(pr.key());
    if (it != g_cache.end()) return it->second;
  }
  const AlgoChoice choice = find_algorithm(pr, x, w, y, what);
  std::lock_guard<std::mutex> lock(g_cache_mutex);
  g_cache.emplace(pr.key(), choice);
  return choice;
}

// Buffers of one call: x (N,H,W,C), w (K,R,S,C), y (N,P,Q,K); which of them is written depends on
// the direction (y forward, x backward data, w backward filter).
void run(const ConvProblem& pr, void* x, void* w, void* y) {
  const std::string what = pr.what();
  const AlgoChoice choice = algorithm_for(pr, x, w, y, what);
  const ConvDescriptors d(pr, choice.math, what);
  // From the step arena inside a training step, like every other temporary.
  const Tensor workspace =
      Tensor::empty({static_cast<int64_t>(choice.workspace_bytes)}, DType::u8, Device::cuda(pr.device));
  void* ws = choice.workspace_bytes > 0 ? workspace.raw() : nullptr;
  cudnnHandle_t handle = context(pr.device).cudnn;
  const float alpha = 1.0f, beta = 0.0f;
  switch (pr.direction) {
    case Direction::forward:
      RSD_CUDNN_CHECK(cudnnConvolutionForward(handle, &alpha, d.x.get(), x, d.w.get(), w, d.conv.get(),
                                              static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo), ws,
                                              choice.workspace_bytes, &beta, d.y.get(), y),
                      what);
      return;
    case Direction::backward_data:
      RSD_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &alpha, d.w.get(), w, d.y.get(), y, d.conv.get(),
                                                   static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo), ws,
                                                   choice.workspace_bytes, &beta, d.x.get(), x),
                      what);
      return;
    case Direction::backward_filter:
      RSD_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle, &alpha, d.x.get(), x, d.y.get(), y, d.conv.get(),
                                                     static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo), ws,
                                                     choice.workspace_bytes, &beta, d.w.get(), w),
                      what);
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

}  // namespace rsd::cuda
