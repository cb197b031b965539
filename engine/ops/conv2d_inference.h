// The convolution of a frozen network with its batch norm folded in (models/folded_resnet.h):
// conv2d, bias, an optional residual add and an optional ReLU in one call, which the oneDNN
// backend runs as one primitive (the bias in the convolution, the add and the ReLU as post-ops)
// instead of four passes over the activations. Inference only: no gradient, and the CPU backends
// only (the GPU runs the unfolded network).
#pragma once
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "engine/tensor.h"

namespace rsd {

// The weights of one convolution as a backend's kernel wants them (reordered into a blocked
// layout, or Winograd-transformed), prepared on first use and kept: for weights that never change,
// such as a frozen network's folded weights. One cache per weight tensor; safe to share between
// threads. Without a cache the kernel prepares the weights on every call (and takes no algorithm
// whose preparation is costly: the fast CPU backend's Winograd convolutions need one).
class ConvWeightCache {
 public:
  // The prepared weights stored under `layout` (the backend's description of it), made by
  // `prepare` on the first call; outside any arena.
  const Tensor& get(const std::string& layout, const std::function<Tensor()>& prepare);

 private:
  std::mutex mutex_;
  std::map<std::string, Tensor> entries_;
};

// x: (N, H, W, C), w: (K, R, S, C), bias: (K), residual: undefined or (N, P, Q, K) as the output.
// Returns y (N, P, Q, K) = relu?(conv2d(x, w, stride, padding) + bias + residual). One dtype
// (f32 or f64), CPU tensors; an input that requires grad is an error while gradients are recorded.
// `cache` (optional): w's prepared forms, kept between calls; w must not change while it is used.
Tensor conv2d_inference(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& residual, bool relu,
                        int stride, int padding, ConvWeightCache* cache = nullptr);

}  // namespace rsd
