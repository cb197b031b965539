// The MPI backend: CPU tensors (f32, f64) over a duplicate of MPI_COMM_WORLD. Every collective is
// MPI's non-blocking form followed by a polling wait (wait_until), so that a rank that died or
// called something else shows up as an rsd::Error after the timeout instead of a hang.
#if RSD_HAVE_MPI
#include <mpi.h>

#include <climits>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/comm/backends.h"
#include "engine/dispatch.h"

namespace rsd::comm::detail {

namespace {

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return str_cat("MPI error code ", code);
  return std::string(text, static_cast<size_t>(length));
}

void mpi_check(int code, const char* call, const std::string& context) {
  if (code != MPI_SUCCESS) fail("MPI error in ", call, ": ", mpi_error_text(code), " [", context, "]");
}

// The thread that initialized MPI: with MPI_THREAD_FUNNELED only it may call MPI.
std::thread::id g_mpi_thread;

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace

void mpi_start(const LaunchInfo& launch) {
  RSD_CHECK(launch.under_mpi, "mpi: ", launch.describe(),
            " was not started by an MPI launcher, so MPI cannot be initialized: launch with mpirun -np N");
  static std::once_flag once;
  std::call_once(once, [] {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread", "start");
      std::atexit(finalize_at_exit);
      RSD_CHECK(provided >= MPI_THREAD_FUNNELED, "mpi: the MPI library gives thread level ", provided,
                ", below MPI_THREAD_FUNNELED: rsd's loader threads need it; use an MPI built with thread support");
    }
    g_mpi_thread = std::this_thread::get_id();
  });
  int mpi_rank = 0, mpi_size = 0;
  mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank), "MPI_Comm_rank", launch.describe());
  mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &mpi_size), "MPI_Comm_size", launch.describe());
  RSD_CHECK(mpi_rank == launch.rank && mpi_size == launch.world_size, "mpi: MPI says this process is rank ",
            mpi_rank, " of ", mpi_size, " but the launch variables say ", launch.describe(),
            ": unset the stale launch variables");
}

void mpi_broadcast_bytes(void* data, size_t bytes, int root, const LaunchInfo& launch, double timeout_seconds) {
  RSD_CHECK(bytes <= static_cast<size_t>(INT_MAX), "mpi broadcast: ", bytes, " bytes is more than one MPI call moves");
  MPI_Request request = MPI_REQUEST_NULL;
  mpi_check(MPI_Ibcast(data, static_cast<int>(bytes), MPI_BYTE, root, MPI_COMM_WORLD, &request), "MPI_Ibcast",
            launch.describe());
  wait_until("mpi", "broadcast", launch.rank, launch.world_size, timeout_seconds, [&] {
    int flag = 0;
    mpi_check(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), "MPI_Test", "broadcast");
    return flag != 0;
  });
}

void mpi_abort_if_started() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, 1);
}

namespace {

// x /= world, elementwise: the average after MPI's sum.
void divide_by(Tensor& x, int world) {
  dispatch_cpu_float(x.dtype(), "mpi average", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = x.data<T>();
    const T w = static_cast<T>(world);
    for (int64_t i = 0, n = x.numel(); i < n; ++i) p[i] /= w;
  });
}

bool test_request(MPI_Request& request, const char* collective, int rank) {
  int flag = 0;
  mpi_check(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), "MPI_Test", str_cat(collective, ", rank ", rank));
  return flag != 0;
}

// Buffers of collectives that were given up on (timed out, or their Work dropped unfinished): MPI
// may still write into them, so they are kept as long as the process lives.
void abandon(Tensor t) {
  static std::vector<Tensor>* const abandoned = new std::vector<Tensor>();
  abandoned->push_back(std::move(t));
}

// all_reduce_async's request. The tensor is held until the collective completes: MPI writes into it.
class MpiWork final : public Work {
 public:
  // Independent of the communicator that made it (it may outlive it).
  MpiWork(MPI_Request request, Tensor t, ReduceOp op, int rank, int world_size, double timeout_seconds)
      : request_(request), t_(std::move(t)), op_(op), rank_(rank), world_size_(world_size),
        timeout_seconds_(timeout_seconds) {}

  // Dropped before completion (an exception unwound past it): MPI still owns the buffer.
  ~MpiWork() override {
    if (!done_) abandon(t_);
  }

  bool test() override {
    if (done_) return true;
    if (!test_request(request_, "all_reduce_async", rank_)) return false;
    if (op_ == ReduceOp::average) divide_by(t_, world_size_);
    done_ = true;
    return true;
  }

  void wait() override {
    wait_until("mpi", "all_reduce_async", rank_, world_size_, timeout_seconds_, [&] { return test(); });
  }

 private:
  MPI_Request request_;
  Tensor t_;
  ReduceOp op_;
  int rank_, world_size_;
  double timeout_seconds_;
  bool done_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(const LaunchInfo& launch, Device device, const CommOptions& options)
      : Communicator(launch, device, options) {
    mpi_start(launch);
    // A private communicator: rsd's collectives never match messages of other MPI users.
    MPI_Request request = MPI_REQUEST_NULL;
    mpi_check(MPI_Comm_idup(MPI_COMM_WORLD, &comm_, &request), "MPI_Comm_idup", launch.describe());
    wait_request(request, "start (MPI_Comm_idup)");
    mpi_check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler", launch.describe());
  }

  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }

  std::string backend() const override { return "mpi"; }

  void all_reduce(Tensor& t, ReduceOp op) override {
    const MPI_Datatype type = check("all_reduce", t);
    MPI_Request request = MPI_REQUEST_NULL;
    mpi_check(MPI_Iallreduce(MPI_IN_PLACE, t.raw(), count("all_reduce", t), type, MPI_SUM, comm_, &request),
              "MPI_Iallreduce", where("all_reduce", t));
    wait_request(request, "all_reduce", {t});
    if (op == ReduceOp::average) divide_by(t, world_size());
  }

  std::unique_ptr<Work> all_reduce_async(Tensor& t, ReduceOp op) override {
    const MPI_Datatype type = check("all_reduce_async", t);
    MPI_Request request = MPI_REQUEST_NULL;
    mpi_check(MPI_Iallreduce(MPI_IN_PLACE, t.raw(), count("all_reduce_async", t), type, MPI_SUM, comm_, &request),
              "MPI_Iallreduce", where("all_reduce_async", t));
    return std::make_unique<MpiWork>(request, t, op, rank(), world_size(), timeout_seconds());
  }

  Tensor all_gather(const Tensor& x) override {
    const MPI_Datatype type = check("all_gather", x);
    check_rows("all_gather", *this, x, false);
    Shape shape = x.shape();
    shape[0] *= world_size();
    Tensor y = Tensor::empty(shape, x.dtype(), x.device());
    const int n = count("all_gather", x);
    count("all_gather", y);
    MPI_Request request = MPI_REQUEST_NULL;
    mpi_check(MPI_Iallgather(x.raw(), n, type, y.raw(), n, type, comm_, &request), "MPI_Iallgather",
              where("all_gather", x));
    wait_request(request, "all_gather", {x, y});
    return y;
  }

  Tensor reduce_scatter(const Tensor& x, ReduceOp op) override {
    const MPI_Datatype type = check("reduce_scatter", x);
    check_rows("reduce_scatter", *this, x, true);
    Shape shape = x.shape();
    shape[0] /= world_size();
    Tensor y = Tensor::empty(shape, x.dtype(), x.device());
    const int n = count("reduce_scatter", y);
    MPI_Request request = MPI_REQUEST_NULL;
    mpi_check(MPI_Ireduce_scatter_block(x.raw(), y.raw(), n, type, MPI_SUM, comm_, &request),
              "MPI_Ireduce_scatter_block", where("reduce_scatter", x));
    wait_request(request, "reduce_scatter", {x, y});
    if (op == ReduceOp::average) divide_by(y, world_size());
    return y;
  }

  void broadcast(Tensor& t, int root) override {
    const MPI_Datatype type = check("broadcast", t);
    check_root("broadcast", *this, root);
    MPI_Request request = MPI_REQUEST_NULL;
    mpi_check(MPI_Ibcast(t.raw(), count("broadcast", t), type, root, comm_, &request), "MPI_Ibcast",
              where("broadcast", t));
    wait_request(request, "broadcast", {t});
  }

  void barrier() override {
    check_thread("barrier");
    MPI_Request request = MPI_REQUEST_NULL;
    mpi_check(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier", launch().describe());
    wait_request(request, "barrier");
  }

  [[noreturn]] void abort(const std::string& why) override {
    print_abort(rank(), why);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);  // MPI_Abort does not return; this keeps [[noreturn]] honest if it does
  }

 private:
  // Completes `request` or throws after the timeout. On a timeout the request stays pending and
  // MPI may still write into its buffers, so they are abandoned (kept alive).
  void wait_request(MPI_Request& request, const char* collective, std::vector<Tensor> buffers = {}) {
    try {
      wait_until("mpi", collective, rank(), world_size(), timeout_seconds(),
                 [&] { return test_request(request, collective, rank()); });
    } catch (const Error&) {
      for (Tensor& b : buffers) abandon(std::move(b));
      throw;
    }
  }

  void check_thread(const char* collective) const {
    RSD_CHECK(std::this_thread::get_id() == g_mpi_thread, "mpi ", collective, ": called from a thread other than ",
              "the one that initialized MPI (rank ", rank(),
              "); MPI runs at MPI_THREAD_FUNNELED: make every collective on that thread");
  }

  MPI_Datatype check(const char* collective, const Tensor& t) const {
    check_thread(collective);
    check_tensor(collective, *this, t);
    switch (t.dtype()) {
      case DType::f32: return MPI_FLOAT;
      case DType::f64: return MPI_DOUBLE;
      default: break;
    }
    fail("mpi ", collective, ": ", t.describe(), " (rank ", rank(),
         "): the mpi backend moves f32 and f64 tensors; cast first");
  }

  int count(const char* collective, const Tensor& t) const {
    RSD_CHECK(t.numel() <= INT_MAX, "mpi ", collective, ": ", t.describe(), " has more than 2^31 - 1 elements, ",
              "more than one MPI call moves (rank ", rank(), "): split it");
    return static_cast<int>(t.numel());
  }

  std::string where(const char* collective, const Tensor& t) const {
    return str_cat(collective, " of ", t.describe(), ", rank ", rank(), " of ", world_size());
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi(const LaunchInfo& launch, Device device, const CommOptions& options) {
  return std::make_unique<MpiCommunicator>(launch, device, options);
}

}  // namespace rsd::comm::detail

#endif  // RSD_HAVE_MPI
