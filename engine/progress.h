// A one-line terminal progress bar for long work: redrawn in place on a terminal, a plain line
// every few percent otherwise (logs and CI stay readable).
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace rsd {

class ProgressBar {
 public:
  // first: units already done when the bar starts (a resumed run), left out of the rate and ETA.
  ProgressBar(std::string label, int64_t total, int64_t first = 0);
  // Marks `done` units finished; `status` is appended (e.g. "loss 0.412").
  void update(int64_t done, const std::string& status);
  void finish(const std::string& status);

 private:
  std::string label_;
  int64_t total_;
  int64_t first_;
  bool tty_;
  int last_percent_printed_ = -1;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace rsd
