// Communicator: the collectives of data-parallel training on tensors, one object per process.
//
//   auto comm = comm::make_communicator(comm::detect_launch(), device, options);
//   comm->broadcast(w, 0);                              // identical initial weights
//   comm->all_reduce(grad, comm::ReduceOp::average);    // gradients
//   Tensor all = comm->all_gather(z_local);             // (world * n, D), rank-major
//
// Backends (engine/comm/*_communicator.cpp): "single" (world size 1: every collective is the
// identity, copies where a new tensor is returned), "mpi" (CPU tensors, OpenMPI/MPICH) and "nccl"
// (CUDA tensors). Every rank must call the same collectives in the same order with the same
// shapes and dtypes; shapes are checked where it costs nothing (the local argument), not across
// ranks.
//
// Ordering: on CUDA the blocking-looking calls (all_reduce, all_gather, ...) are enqueued on the
// device's compute stream (cuda::context(d).stream), so they are ordered with the kernels before
// and after them like any op; they return before the data has moved. all_reduce_async runs on a
// separate communication stream that first waits for the compute stream's work so far;
// Work::wait() makes the compute stream wait for it (CUDA) or completes it (MPI).
//
// Failure: a collective that has not completed after options.timeout_seconds throws rsd::Error
// naming the collective, the rank and the timeout ("a rank probably died or is stuck"); the
// caller then calls abort(), which ends every rank (MPI_Abort, ncclCommAbort + exit) instead of
// leaving them hanging.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "engine/comm/bootstrap.h"
#include "engine/tensor.h"

namespace rsd::comm {

enum class ReduceOp { sum, average };

struct CommOptions {
  std::string backend = "auto";  // auto: single for world size 1, nccl for CUDA, mpi for CPU
  double timeout_seconds = 300;  // a collective still pending after this long is an error
};

// A collective in flight (all_reduce_async).
class Work {
 public:
  virtual ~Work() = default;
  // Completes the collective (MPI) or orders the compute stream after it (CUDA); throws on
  // timeout. Idempotent.
  virtual void wait() = 0;
  // True once the data has arrived; never blocks (lets the MPI library progress).
  virtual bool test() = 0;
  // Orders the device's later work after the collective without blocking the host (NCCL: the
  // compute stream waits for its event); where the host must take part (MPI), wait(). A hang is
  // then caught where the host next waits for the device (Communicator::wait_for).
  virtual void wait_on_device() { wait(); }
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  int rank() const { return launch_.rank; }
  int world_size() const { return launch_.world_size; }
  int local_rank() const { return launch_.local_rank; }
  const LaunchInfo& launch() const { return launch_; }
  Device device() const { return device_; }
  double timeout_seconds() const { return options_.timeout_seconds; }
  virtual std::string backend() const = 0;

  // In place on t (contiguous, on the communicator's device; f32 or f64, and bf16 on NCCL).
  virtual void all_reduce(Tensor& t, ReduceOp op) = 0;
  virtual std::unique_ptr<Work> all_reduce_async(Tensor& t, ReduceOp op) = 0;
  // x: (n, ...) on every rank -> (world * n, ...): rank r's rows at [r n, (r + 1) n).
  virtual Tensor all_gather(const Tensor& x) = 0;
  // x: (world * n, ...) -> (n, ...): the reduction over ranks of block [rank n, (rank + 1) n).
  virtual Tensor reduce_scatter(const Tensor& x, ReduceOp op) = 0;
  // t on every rank becomes root's t.
  virtual void broadcast(Tensor& t, int root) = 0;
  virtual void barrier() = 0;
  // Blocks until ready() (something this rank's device will reach, e.g. a read-back's copy),
  // watching the collectives queued before it: on NCCL an asynchronous error or the timeout aborts
  // the communicator and throws, as a collective's own wait would. Elsewhere the collectives
  // completed on the host already: it just waits.
  virtual void wait_for(const std::function<bool()>& ready, const char* what);
  // Ends the whole job after printing `why` on this rank; never returns.
  [[noreturn]] virtual void abort(const std::string& why) = 0;

 protected:
  Communicator(LaunchInfo launch, Device device, CommOptions options)
      : launch_(std::move(launch)), device_(device), options_(std::move(options)) {}

  LaunchInfo launch_;
  Device device_;
  CommOptions options_;
};

// The communicator for this process: "single" when world_size is 1 (unless options.backend
// names another), else NCCL for a CUDA device and MPI for the CPU. Errors say what to do when the
// backend is missing from the build or the launch cannot bootstrap it (e.g. CPU ranks launched
// with RANK/WORLD_SIZE but without mpirun).
std::unique_ptr<Communicator> make_communicator(const LaunchInfo& launch, Device device,
                                                const CommOptions& options = {});

// Whether this build has the backend ("mpi", "nccl"; "single" always).
bool backend_available(const std::string& backend);

}  // namespace rsd::comm
