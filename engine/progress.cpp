#include "engine/progress.h"

#include <unistd.h>

#include <algorithm>

namespace rsd {

ProgressBar::ProgressBar(std::string label, int64_t total, int64_t first)
    : label_(std::move(label)), total_(std::max<int64_t>(total, 1)), first_(first), tty_(isatty(fileno(stdout)) != 0),
      start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(int64_t done, const std::string& status) {
  const int percent = static_cast<int>(100 * done / total_);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t progressed = done - first_;
  const double eta = progressed > 0 ? seconds * static_cast<double>(total_ - done) / static_cast<double>(progressed) : 0.0;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = kWidth * percent / 100;
    std::printf("\r%s [%s%s] %3d%% %lld/%lld  %s  %.0fs left ", label_.c_str(), std::string(filled, '#').c_str(),
                std::string(kWidth - filled, '.').c_str(), percent, static_cast<long long>(done),
                static_cast<long long>(total_), status.c_str(), eta);
    std::fflush(stdout);
  } else if (percent / 10 != last_percent_printed_ / 10 || done == total_) {
    std::printf("%s %3d%% %lld/%lld  %s  (%.1fs, %.0fs left)\n", label_.c_str(), percent, static_cast<long long>(done),
                static_cast<long long>(total_), status.c_str(), seconds, eta);
    last_percent_printed_ = percent;
  }
}

void ProgressBar::finish(const std::string& status) {
  if (tty_) {
    update(total_, status);
    std::printf("\n");
  } else if (last_percent_printed_ != 100) {
    update(total_, status);
  }
}

}  // namespace rsd
