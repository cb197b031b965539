// Optimizers: update f32 master weights from their gradients, one step at a time, with the
// learning rate the schedule gives for that step (engine/optim/schedule.h):
//
//   LARS opt(registry.parameters(), LarsOptions{});
//   for (int64_t s = 0; s < total; ++s) { ...backward...; opt.step(schedule.lr(s)); registry.zero_grad(); }
//
// An optimizer holds its parameters' tensors (value and gradient handles, not the Parameter
// structs) and owns its state tensors, allocated once at construction, zero-filled, on the
// parameters' device from the pool. All parameters are f32 on one device.
//   CPU:  a plain float loop per parameter (the reference).
//   CUDA: one fused multi-tensor launch per step over all parameters (LARS: two), from a slot
//         table built once here; a steady-state step allocates nothing and copies nothing to the GPU.
// Gradient buffers must keep their addresses (ParameterRegistry guarantees it); step() checks.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/cuda/multi_tensor.h"
#include "engine/params.h"
#include "engine/tensor.h"

namespace rsd {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Updates every parameter once from its current gradient with learning rate `lr` (>= 0).
  virtual void step(double lr) = 0;

  const std::string& name() const { return name_; }  // "SGD", "LARS", "AdamW"
  Device device() const { return device_; }
  // Steps taken so far (AdamW's bias correction uses it); set it when resuming from a checkpoint.
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t steps);
  // The state tensors, named "<parameter>.<state>" (e.g. "conv1.weight.momentum",
  // "fc.bias.exp_avg_sq"), in parameter order: checkpoints save them and restore them in place
  // (copy_from), which keeps their addresses.
  const std::vector<std::pair<std::string, Tensor>>& state() const { return state_; }
  // The training step's guard (kernels/optim.cuh): two f32 on this optimizer's device,
  // {skip, gradient scale}, computed on the device from the step's loss and gradient norm, so the
  // host decides nothing between backward and update. While set, every step() honours it: a
  // skipped step changes no weight and no state; gradients are multiplied by the scale as they are
  // read (clipping). On the CPU a skipped step is not counted either; on a GPU the count advances
  // (the host learns of the skip later: TrainStep takes the count back then), so AdamW's bias
  // correction of the step right after a skip is one step ahead. Undefined: no guard.
  void set_guard(const Tensor& guard);

 protected:
  struct Slot {
    std::string name;
    Tensor param;  // f32 master weights
    Tensor grad;   // its gradient buffer, same shape
    bool excluded = false;
    Tensor state0;  // optimizer-specific; undefined when unused
    Tensor state1;
    const void* grad_address = nullptr;  // the buffer's address at construction
  };

  // Checks the parameters (f32, one device, a gradient buffer each); errors name `name` and the
  // parameter.
  Optimizer(std::string name, const std::vector<Parameter*>& params);

  // A zero-filled f32 state tensor like slot i's parameter, named "<parameter>.<state_name>".
  Tensor add_state(size_t i, const char* state_name);
  // On CUDA, builds the multi-tensor table once the states exist; no-op on the CPU.
  void finish_construction();
  // Validates lr, checks that no gradient buffer moved, counts the step. On the CPU it applies
  // the guard: false when the step is skipped (nothing to do), the gradients scaled in place
  // otherwise (the same f32 product the kernels form).
  bool begin_step(double lr);
  // The guard's device pointer for the kernels; nullptr without one.
  const float* guard_pointer() const;

  std::vector<Slot> slots_;
  cuda::MultiTensorTable table_;  // CUDA only

 private:
  std::string name_;
  Device device_;
  int64_t step_count_ = 0;
  std::vector<std::pair<std::string, Tensor>> state_;
  Tensor guard_;
};

}  // namespace rsd
