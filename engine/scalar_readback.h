// A few device scalars (a step's loss, gradient norm, guard) copied to page-locked host memory
// behind the queued work and collected later: the host queues the next step instead of waiting
// for this one, and reads the numbers when the device has got there. On the CPU the values are
// copied at once.
//   ScalarReadback rb(device);
//   rb.enqueue({loss, norm});            // after the step's work is queued
//   ... queue the next step ...
//   std::vector<double> v = rb.collect();  // the oldest pending set, waiting for it if needed
#pragma once
#include <deque>
#include <memory>
#include <vector>

#include "engine/pinned.h"
#include "engine/tensor.h"

namespace rsd {

class ScalarReadback {
 public:
  // slots: how many sets may be pending at once (each has its own buffer).
  explicit ScalarReadback(Device device, int slots = 2);
  ~ScalarReadback();
  ScalarReadback(const ScalarReadback&) = delete;
  ScalarReadback& operator=(const ScalarReadback&) = delete;

  // Queues the copy of every element of `scalars` (tensors on the device, 32 elements in all at
  // most; any dtype). Refuses when `slots` sets are already pending.
  void enqueue(const std::vector<Tensor>& scalars);
  // Sets queued and not collected yet.
  int pending() const { return static_cast<int>(pending_.size()); }
  // True when the oldest pending set has arrived (never blocks).
  bool ready() const;
  // The oldest pending set, in order, as doubles; waits for its copies.
  std::vector<double> collect();

 private:
  struct Slot;
  Device device_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::deque<int> pending_;  // slot indices, oldest first
  int next_ = 0;
};

}  // namespace rsd
