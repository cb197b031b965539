// The NCCL backend: CUDA tensors (f32, bf16, f64).
//
// Streams: every NCCL call of the communicator runs on one communication stream, because NCCL
// executes a communicator's collectives one at a time in the order they were issued (the same
// order on every rank); two streams would only let the device try to run them out of order. The
// blocking-looking collectives are fenced by events on both sides with the device's compute stream
// (engine/cuda/context.h): they start after the kernels queued before them and the kernels queued
// after them start after they end, exactly as if they ran on the compute stream. all_reduce_async
// has only the first fence; Work::wait() adds the second.
//
// Timeouts: NCCL cannot be waited on with one, so the points where the host waits (Work::wait,
// barrier) poll the completion event and NCCL's asynchronous error until the deadline, then abort
// the NCCL communicator (which frees the stuck kernels) and throw.
//
// Bootstrap of the unique id: world size 1 makes its own; under MPI rank 0 makes it and
// MPI_Bcast hands it out; otherwise (torchrun-style launch) every rank sets NCCL_COMM_ID to
// MASTER_ADDR:MASTER_PORT and calls ncclGetUniqueId, NCCL's documented environment bootstrap
// (rank 0 then listens on that address).
#if RSD_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdlib>

#include "engine/allocator.h"
#include "engine/comm/backends.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"

// NCCL's status string plus its last error text for `nccl_comm` (nullptr before the communicator exists).
#define RSD_NCCL_CHECK(call, nccl_comm, ...)                                                            \
  do {                                                                                             \
    const ncclResult_t rsd_nccl_ = (call);                                                         \
    if (rsd_nccl_ != ncclSuccess)                                                                  \
      ::rsd::fail("NCCL error in ", #call, ": ", ncclGetErrorString(rsd_nccl_),                    \
                  ::rsd::comm::detail::nccl_last_error(nccl_comm), " [", ::rsd::str_cat(__VA_ARGS__), \
                  "]");                                                                            \
  } while (0)

namespace rsd::comm::detail {

namespace {

std::string nccl_last_error(ncclComm_t comm) {
  const char* text = ncclGetLastError(comm);
  if (!text || !*text) return "";
  return str_cat(" (", text, ")");
}

ncclDataType_t nccl_type(const char* collective, const Tensor& t, int rank) {
  switch (t.dtype()) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::bf16: return ncclBfloat16;
    default: break;
  }
  fail("nccl ", collective, ": ", t.describe(), " (rank ", rank, "): the nccl backend moves f32, bf16 and f64 ",
       "tensors; cast first");
}

ncclRedOp_t nccl_op(ReduceOp op) { return op == ReduceOp::sum ? ncclSum : ncclAvg; }

// MASTER_ADDR:MASTER_PORT as NCCL_COMM_ID spells it (an IPv6 address in brackets).
std::string comm_id_address(const LaunchInfo& launch) {
  const bool ipv6 = launch.master_addr.find(':') != std::string::npos && launch.master_addr.front() != '[';
  return ipv6 ? str_cat("[", launch.master_addr, "]:", launch.master_port)
              : str_cat(launch.master_addr, ":", launch.master_port);
}

ncclUniqueId make_unique_id(const LaunchInfo& launch, double timeout_seconds) {
  ncclUniqueId id{};
  if (launch.world_size == 1) {
    RSD_NCCL_CHECK(ncclGetUniqueId(&id), nullptr, "nccl start, ", launch.describe());
    return id;
  }
#if RSD_HAVE_MPI
  if (launch.under_mpi) {
    mpi_start(launch);
    if (launch.rank == 0) RSD_NCCL_CHECK(ncclGetUniqueId(&id), nullptr, "nccl start, ", launch.describe());
    mpi_broadcast_bytes(&id, sizeof(id), 0, launch, timeout_seconds);
    return id;
  }
#endif
  RSD_CHECK(!launch.master_addr.empty() && launch.master_port > 0, "nccl: ", launch.describe(),
            " needs MASTER_ADDR and MASTER_PORT (the address where rank 0 listens) to meet the other ranks",
            RSD_HAVE_MPI ? ", or an MPI launch (mpirun, srun --mpi=pmix)"
                         : " (this build has no MPI, so mpirun's variables cannot be used for it)");
  RSD_CHECK(setenv("NCCL_COMM_ID", comm_id_address(launch).c_str(), 1) == 0, "nccl: cannot set NCCL_COMM_ID");
  RSD_NCCL_CHECK(ncclGetUniqueId(&id), nullptr, "nccl start from NCCL_COMM_ID=", comm_id_address(launch), ", ",
                 launch.describe());
  return id;
}

// Whether the work before `event` has completed (never blocks).
bool event_done(cudaEvent_t event, const char* collective, int rank) {
  const cudaError_t status = cudaEventQuery(event);
  if (status == cudaErrorNotReady) return false;
  RSD_CUDA_CHECK(status, "nccl ", collective, ", rank ", rank);
  return true;
}

class NcclCommunicator;

// all_reduce_async in flight: `done` is recorded on the communication stream after the reduction.
class NcclWork final : public Work {
 public:
  NcclWork(NcclCommunicator* comm, cudaStream_t compute, Tensor t, cudaEvent_t done)
      : comm_(comm), compute_(compute), t_(std::move(t)), done_(done) {}
  ~NcclWork() override;
  void wait() override;
  void wait_on_device() override;
  bool test() override;

 private:
  NcclCommunicator* comm_;  // wait() only: the Work must not outlive the communicator to be waited on
  cudaStream_t compute_;    // the device's compute stream, which lives as long as the process
  Tensor t_;  // held until the compute stream is ordered after the reduction
  cudaEvent_t done_;
  bool waited_ = false;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const LaunchInfo& launch, Device device, const CommOptions& options)
      : Communicator(launch, device, options) {
    cuda::DeviceContext& ctx = cuda::context(device.index);  // also makes the device current
    compute_ = ctx.stream;
    const ncclUniqueId id = make_unique_id(launch, options.timeout_seconds);
    RSD_NCCL_CHECK(ncclCommInitRank(&comm_, launch.world_size, id, launch.rank), nullptr, "nccl start, ",
                   launch.describe(), " on ", device.str());
    RSD_CUDA_CHECK(cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking), "nccl communication stream on ",
                   device.str());
    RSD_CUDA_CHECK(cudaEventCreateWithFlags(&after_compute_, cudaEventDisableTiming), "nccl event");
    RSD_CUDA_CHECK(cudaEventCreateWithFlags(&after_comm_, cudaEventDisableTiming), "nccl event");
    ArenaSuspend persistent;  // lives as long as the communicator, whatever scope built it
    barrier_buffer_ = Tensor::zeros({1}, DType::f32, device);
  }

  ~NcclCommunicator() override {
    cuda::try_make_current(device().index);
    if (!aborted_) ncclCommDestroy(comm_);  // finalizes: waits for the queued collectives
    cudaEventDestroy(after_compute_);
    cudaEventDestroy(after_comm_);
    cudaStreamDestroy(comm_stream_);
  }

  std::string backend() const override { return "nccl"; }

  void all_reduce(Tensor& t, ReduceOp op) override {
    const ncclDataType_t type = start("all_reduce", t);
    const std::string what = where("all_reduce", t);
    RSD_NCCL_CHECK(
        ncclAllReduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()), type, nccl_op(op), comm_, comm_stream_),
        comm_, what);
    end_on_compute(what);
  }

  std::unique_ptr<Work> all_reduce_async(Tensor& t, ReduceOp op) override {
    const ncclDataType_t type = start("all_reduce_async", t);
    const std::string what = where("all_reduce_async", t);
    cudaEvent_t done = nullptr;
    RSD_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), what);
    auto work = std::make_unique<NcclWork>(this, compute_, t, done);  // owns the event from here on
    RSD_NCCL_CHECK(
        ncclAllReduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()), type, nccl_op(op), comm_, comm_stream_),
        comm_, what);
    RSD_CUDA_CHECK(cudaEventRecord(done, comm_stream_), what);
    return work;
  }

  Tensor all_gather(const Tensor& x) override {
    check_tensor("all_gather", *this, x);
    check_rows("all_gather", *this, x, false);
    // The output exists before the fence in start(): a fill of new memory (poisoning in tests)
    // is compute-stream work that NCCL's writes must follow.
    Shape shape = x.shape();
    shape[0] *= world_size();
    Tensor y = Tensor::empty(shape, x.dtype(), x.device());
    const ncclDataType_t type = start("all_gather", x);
    const std::string what = where("all_gather", x);
    RSD_NCCL_CHECK(ncclAllGather(x.raw(), y.raw(), static_cast<size_t>(x.numel()), type, comm_, comm_stream_), comm_,
                   what);
    end_on_compute(what);
    return y;
  }

  Tensor reduce_scatter(const Tensor& x, ReduceOp op) override {
    check_tensor("reduce_scatter", *this, x);
    check_rows("reduce_scatter", *this, x, true);
    Shape shape = x.shape();
    shape[0] /= world_size();
    Tensor y = Tensor::empty(shape, x.dtype(), x.device());
    const ncclDataType_t type = start("reduce_scatter", x);
    const std::string what = where("reduce_scatter", x);
    RSD_NCCL_CHECK(
        ncclReduceScatter(x.raw(), y.raw(), static_cast<size_t>(y.numel()), type, nccl_op(op), comm_, comm_stream_),
        comm_, what);
    end_on_compute(what);
    return y;
  }

  void broadcast(Tensor& t, int root) override {
    check_root("broadcast", *this, root);
    const ncclDataType_t type = start("broadcast", t);
    const std::string what = where("broadcast", t);
    RSD_NCCL_CHECK(ncclBroadcast(t.raw(), t.raw(), static_cast<size_t>(t.numel()), type, root, comm_, comm_stream_),
                   comm_, what);
    end_on_compute(what);
  }

  void wait_for(const std::function<bool()>& ready, const char* what) override {
    RSD_CHECK(!aborted_, "nccl ", what, ": the communicator was aborted after an earlier failure (rank ", rank(), ")");
    try {
      wait_until("nccl", what, rank(), world_size(), timeout_seconds(), [&] {
        if (ready()) return true;
        ncclResult_t async = ncclSuccess;
        RSD_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async), comm_, what, ", rank ", rank());
        if (async != ncclSuccess && async != ncclInProgress)
          fail("nccl ", what, ": rank ", rank(), " of ", world_size(), ": NCCL failed: ", ncclGetErrorString(async),
               nccl_last_error(comm_), " (a peer probably died); check the other ranks' output");
        return false;
      });
    } catch (const Error&) {
      abort_nccl();
      throw;
    }
  }

  // NCCL has no barrier: a one-element all-reduce, waited for on the host.
  void barrier() override {
    start("barrier", barrier_buffer_);
    const std::string what = where("barrier", barrier_buffer_);
    RSD_NCCL_CHECK(
        ncclAllReduce(barrier_buffer_.raw(), barrier_buffer_.raw(), 1, ncclFloat32, ncclSum, comm_, comm_stream_),
        comm_, what);
    end_on_compute(what);
    wait_event(after_comm_, "barrier");
  }

  [[noreturn]] void abort(const std::string& why) override {
    print_abort(rank(), why);
    abort_nccl();
#if RSD_HAVE_MPI
    mpi_abort_if_started();
#endif
    std::_Exit(1);
  }

  // Waits on the host until `event` has completed, NCCL reports an error, or the timeout; the
  // last two abort the NCCL communicator (its kernels would otherwise spin forever) and throw.
  void wait_event(cudaEvent_t event, const char* collective) {
    RSD_CHECK(!aborted_, "nccl ", collective, ": the communicator was aborted after an earlier failure (rank ", rank(),
              ")");
    try {
      wait_until("nccl", collective, rank(), world_size(), timeout_seconds(), [&] {
        if (event_done(event, collective, rank())) return true;
        ncclResult_t async = ncclSuccess;
        RSD_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async), comm_, collective, ", rank ", rank());
        if (async != ncclSuccess && async != ncclInProgress)
          fail("nccl ", collective, ": rank ", rank(), " of ", world_size(), ": NCCL failed: ",
               ncclGetErrorString(async), nccl_last_error(comm_), " (a peer probably died); check the other ranks' output");
        return false;
      });
    } catch (const Error&) {
      abort_nccl();
      throw;
    }
  }

 private:
  // Checks common to every collective, then makes the device current on this thread and the
  // communication stream wait for the compute stream's work so far (which wrote the inputs).
  ncclDataType_t start(const char* collective, const Tensor& t) {
    RSD_CHECK(!aborted_, "nccl ", collective, ": the communicator was aborted after an earlier failure (rank ", rank(),
              ")");
    check_tensor(collective, *this, t);
    const ncclDataType_t type = nccl_type(collective, t, rank());
    cuda::make_current(device().index);
    RSD_CUDA_CHECK(cudaEventRecord(after_compute_, compute_), "nccl ", collective, ", rank ", rank());
    RSD_CUDA_CHECK(cudaStreamWaitEvent(comm_stream_, after_compute_, 0), "nccl ", collective, ", rank ", rank());
    return type;
  }

  // The compute stream's later work (readers of the outputs, reuse of the inputs' memory) waits
  // for the collective just enqueued on the communication stream.
  void end_on_compute(const std::string& what) {
    RSD_CUDA_CHECK(cudaEventRecord(after_comm_, comm_stream_), what);
    RSD_CUDA_CHECK(cudaStreamWaitEvent(compute_, after_comm_, 0), what);
  }

  void abort_nccl() {
    if (aborted_) return;
    aborted_ = true;
    ncclCommAbort(comm_);
  }

  std::string where(const char* collective, const Tensor& t) const {
    return str_cat("nccl ", collective, " of ", t.describe(), ", rank ", rank(), " of ", world_size());
  }

  cudaStream_t compute_ = nullptr;
  cudaStream_t comm_stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  cudaEvent_t after_compute_ = nullptr;  // re-recorded by each collective: the fence in
  cudaEvent_t after_comm_ = nullptr;     // and out
  Tensor barrier_buffer_;
  bool aborted_ = false;
};

NcclWork::~NcclWork() {
  // Dropped without wait() (an exception unwound past it): later compute-stream work, which may
  // reuse t's memory, still has to come after the reduction.
  if (!waited_) cudaStreamWaitEvent(compute_, done_, 0);
  cudaEventDestroy(done_);
}

bool NcclWork::test() { return waited_ || event_done(done_, "all_reduce_async", comm_->rank()); }

void NcclWork::wait_on_device() {
  if (waited_) return;
  RSD_CUDA_CHECK(cudaStreamWaitEvent(compute_, done_, 0), "nccl all_reduce_async wait, rank ", comm_->rank());
  waited_ = true;
}

void NcclWork::wait() {
  if (waited_) return;
  comm_->wait_event(done_, "all_reduce_async");
  RSD_CUDA_CHECK(cudaStreamWaitEvent(compute_, done_, 0), "nccl all_reduce_async wait, rank ",
                 comm_->rank());
  waited_ = true;
}

}  // namespace

std::unique_ptr<Communicator> make_nccl(const LaunchInfo& launch, Device device, const CommOptions& options) {
  return std::make_unique<NcclCommunicator>(launch, device, options);
}

}  // namespace rsd::comm::detail

#endif  // RSD_HAVE_NCCL
