// sync_batch_norm across MPI ranks (mpirun -np 2 and -np 3): every rank builds the same global
// batch from a fixed seed, normalizes it whole with batch_norm2d / batch_norm1d (the reference,
// one process on the combined batch) and its own slice with sync_batch_norm, the slices unequal
// (and one of them empty in the (N, C) case). The slice's output and input-gradient rows, the
// running statistics and the all-reduced (summed) dgamma / dbeta must equal the reference's:
// 1e-6 relative in f32, 1e-10 in f64 (only the order of the sums differs there).
#include <doctest/doctest.h>

#include <vector>

#include "engine/autograd.h"
#include "engine/comm/communicator.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/batchnorm.h"
#include "tests/support/harness.h"
#include "tests/mpi/mpi_world.h"

using namespace rsd;
using namespace rsd::test;

namespace {

// Rows [begin, begin + count) of the first dimension of a host tensor, as a new tensor.
Tensor slice_rows(const Tensor& t, int64_t begin, int64_t count) {
  const int64_t row = t.numel() / t.dim(0);
  const std::vector<double> all = t.to_host_doubles();
  Shape shape = t.shape();
  shape[0] = count;
  return Tensor::from_vector(std::vector<double>(all.begin() + begin * row, all.begin() + (begin + count) * row), shape,
                             t.dtype());
}

std::vector<double> rows_of(const std::vector<double>& v, int64_t row, int64_t begin, int64_t count) {
  return std::vector<double>(v.begin() + begin * row, v.begin() + (begin + count) * row);
}

Tensor leaf(Tensor t) {
  t.set_requires_grad(true);
  return t;
}

struct Outcome {
  std::vector<double> y, gx, dgamma, dbeta, running_mean, running_var;
};

// The global batch x (N, ...) with N = sum(counts), its upstream gradient gy, gamma, beta and the
// running statistics: the same on every rank (fixed seeds). Rank r holds counts[r] rows, after
// those of the ranks before it. x_shape_of_one_row: x's shape with any first dimension.
void check_against_whole_batch(const Shape& x_shape_of_one_row, const std::vector<int64_t>& counts, DType dtype,
                               double tol) {
  comm::Communicator& world = mpi_world();
  const int rank = world.rank();
  REQUIRE(static_cast<int>(counts.size()) == world.world_size());
  int64_t total = 0, first = 0;
  for (int r = 0; r < world.world_size(); ++r) {
    if (r == rank) first = total;
    total += counts[static_cast<size_t>(r)];
  }
  Shape shape = x_shape_of_one_row;
  shape[0] = total;
  const int64_t C = shape.back();
  const int64_t row = shape_numel(shape) / total;
  const double momentum = 0.2, eps = 1e-4;

  const Tensor x_all = random_tensor(shape, dtype, Device::cpu(), 31, -2.0, 3.0);
  const Tensor gy_all = random_tensor(shape, dtype, Device::cpu(), 32);
  const Tensor gamma0 = random_tensor({C}, dtype, Device::cpu(), 33, 0.5, 1.5);
  const Tensor beta0 = random_tensor({C}, dtype, Device::cpu(), 34);
  const Tensor mean0 = random_tensor({C}, dtype, Device::cpu(), 35);
  const Tensor var0 = random_tensor({C}, dtype, Device::cpu(), 36, 0.5, 1.5);
  auto copy = [](const Tensor& t) {
    Tensor c = Tensor::empty(t.shape(), t.dtype());
    c.copy_from(t);
    return c;
  };

  auto run = [&](bool sync) {
    Tensor x = leaf(sync ? slice_rows(x_all, first, counts[static_cast<size_t>(rank)]) : copy(x_all));
    Tensor gy = sync ? slice_rows(gy_all, first, counts[static_cast<size_t>(rank)]) : copy(gy_all);
    Tensor gamma = leaf(copy(gamma0)), beta = leaf(copy(beta0));
    Tensor running_mean = copy(mean0), running_var = copy(var0);
    Tensor y;
    if (sync) {
      y = sync_batch_norm(x, gamma, beta, running_mean, running_var, world, momentum, eps);
    } else {
      y = shape.size() == 4 ? batch_norm2d(x, gamma, beta, running_mean, running_var, true, momentum, eps)
                            : batch_norm1d(x, gamma, beta, running_mean, running_var, true, momentum, eps);
    }
    backward(y, gy);
    Tensor dgamma = gamma.grad(), dbeta = beta.grad();
    if (sync) {
      // dgamma, dbeta are the local sums: the data-parallel gradient all-reduce adds them.
      world.all_reduce(dgamma, comm::ReduceOp::sum);
      world.all_reduce(dbeta, comm::ReduceOp::sum);
    }
    return Outcome{y.to_host_doubles(),     x.grad().to_host_doubles(),     dgamma.to_host_doubles(),
                   dbeta.to_host_doubles(), running_mean.to_host_doubles(), running_var.to_host_doubles()};
  };
  const Outcome want = run(false);
  const Outcome got = run(true);

  const int64_t mine = counts[static_cast<size_t>(rank)];
  CAPTURE(rank);
  CHECK(max_relative_error(rows_of(want.y, row, first, mine), got.y) <= tol);
  CHECK(max_relative_error(rows_of(want.gx, row, first, mine), got.gx) <= tol);
  CHECK(max_relative_error(want.dgamma, got.dgamma) <= tol);
  CHECK(max_relative_error(want.dbeta, got.dbeta) <= tol);
  CHECK(max_relative_error(want.running_mean, got.running_mean) <= tol);
  CHECK(max_relative_error(want.running_var, got.running_var) <= tol);
}

}  // namespace

TEST_SUITE("mpi") {
  TEST_CASE("sync_batch_norm over unequal slices equals batch_norm on the whole batch") {
    const int world = mpi_world().world_size();
    std::vector<int64_t> images, rows;
    for (int r = 0; r < world; ++r) {
      images.push_back(2 + r);  // (N, H, W, C): 2, 3, 4 images
      rows.push_back(3 * r);    // (N, C): 0, 3, 6 rows: rank 0 holds none
    }
    for (DType dtype : {DType::f32, DType::f64}) {
      CAPTURE(dtype_name(dtype));
      const double tol = dtype == DType::f32 ? 1e-6 : 1e-10;
      check_against_whole_batch({1, 3, 5, 7}, images, dtype, tol);
      check_against_whole_batch({1, 13}, rows, dtype, tol);
    }
  }

  TEST_CASE("sync_batch_norm refuses one value per channel over all ranks, on every rank alike") {
    comm::Communicator& world = mpi_world();
    // Rank 0 holds one row, the others none: one value per channel in total.
    const int64_t mine = world.rank() == 0 ? 1 : 0;
    Tensor x = Tensor::zeros({mine, 4}, DType::f64);
    Tensor gamma = Tensor::full({4}, 1.0, DType::f64), beta = Tensor::zeros({4}, DType::f64);
    Tensor running_mean = Tensor::zeros({4}, DType::f64), running_var = Tensor::full({4}, 1.0, DType::f64);
    CHECK_THROWS_WITH_AS(sync_batch_norm(x, gamma, beta, running_mean, running_var, world),
                         doctest::Contains("more than 1 value per channel over all ranks, got 1 in total"), Error);
    tape().clear();
    // Every rank threw before the second all-reduce; the world is still in step.
    world.barrier();
  }
}
