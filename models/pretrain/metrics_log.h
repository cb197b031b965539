// The metrics of a training run as JSON lines (one object per logged step), flushed line by line
// so `tail -f` and a crashed run both show everything logged so far. A run resumed after
// `steps_done` steps keeps the rows of those steps (a row's "step" counts the steps done when it
// was written, so the checkpoint's own step's row is kept) and continues the same file.
#pragma once
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace rsd::pretrain {

using MetricsRow = std::vector<std::pair<std::string, double>>;  // in column order; "step" first

class MetricsLog {
 public:
  // Keeps the rows of `path` whose step is at most steps_done (none when steps_done is 0).
  MetricsLog(std::string path, int64_t steps_done);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  void write(const MetricsRow& row);
  // (step, value) of one column over every row, kept ones included: the loss curve.
  std::vector<std::pair<double, double>> series(const std::string& column) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<MetricsRow> rows_;
};

}  // namespace rsd::pretrain
