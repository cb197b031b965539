// A self-supervised method: its networks (parameters in one trainable registry), the loss of a
// batch of views, and what happens after each optimizer step. The training loop
// (models/pretrain/) is the same for every method:
//
//   SslOutput out = method.forward(views);   // records the tape
//   backward(out.loss);  optimizer.step(lr);  method.after_step(step);
//
// Methods (models/byol.h, models/dual_contrastive.h, models/simclr.h) run in the dtype of their
// views: f32 on the CPU, bf16 on a GPU (mixed precision: the layers cast the f32 master weights),
// f64 for reference runs on the CPU. Losses are f32 on CUDA and the views' dtype on the CPU.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/params.h"
#include "engine/tensor.h"

namespace rsd::comm {
class Communicator;
}

namespace rsd::models {

struct SslOutput {
  Tensor loss;       // {1}, on the tape
  Tensor embedding;  // (N, D): the projection of view 0, read by the collapse monitors
};

class SslMethod {
 public:
  virtual ~SslMethod() = default;
  SslMethod(const SslMethod&) = delete;
  SslMethod& operator=(const SslMethod&) = delete;

  virtual const char* name() const = 0;
  // views[k]: (N, H, W, C_k) on the method's device.
  virtual SslOutput forward(const std::vector<Tensor>& views) = 0;
  // After the optimizer step `step` (counted from 0): BYOL's EMA of the target network.
  virtual void after_step(int64_t /*step*/) {}
  // The training step's guard (engine/optim/step_guard.h): after_step's updates honour it (a
  // skipped step moves no weights). Undefined: none.
  virtual void set_step_guard(const Tensor& /*guard*/) {}
  // After params() were overwritten from given weights (--init): BYOL restarts its target as a
  // copy of the online network.
  virtual void weights_loaded() {}
  // Values worth logging at `step` (BYOL's tau, the temperature), by name.
  virtual std::map<std::string, double> scalars(int64_t /*step*/) const { return {}; }

  // The trainable parameters and the buffers (BN running statistics) of the online networks.
  ParameterRegistry& params() { return params_; }
  const ParameterRegistry& params() const { return params_; }
  // Tensors besides params() that a checkpoint must hold to resume exactly (BYOL's target
  // network: parameters and buffers), by name.
  virtual std::vector<std::pair<std::string, Tensor>> extra_state() const { return {}; }

  // Data-parallel training (models/pretrain/trainer): the communicator of the job, or nullptr for
  // one process. The contrastive methods use it to contrast their rows against the projections
  // of every rank (models/contrastive_loss.h); BYOL's loss is per sample and needs only the
  // gradient all-reduce the trainer does.
  void set_communicator(comm::Communicator* comm) { comm_ = comm; }

 protected:
  SslMethod() = default;
  ParameterRegistry params_;
  comm::Communicator* comm_ = nullptr;
};

}  // namespace rsd::models
