#include "models/pretrain/metrics_log.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace rsd::pretrain {

using json = nlohmann::ordered_json;

namespace {

std::string row_json(const MetricsRow& row) {
  json j = json::object();
  for (const auto& [key, value] : row) {
    if (!std::isfinite(value)) {
      j[key] = nullptr;  // JSON has no NaN: null says "not a number" to every reader
    } else if (value == std::floor(value) && std::fabs(value) < 9e15) {
      j[key] = static_cast<int64_t>(value);
    } else {
      j[key] = value;
    }
  }
  return j.dump();
}

// The rows of an earlier run's file up to steps_done; a line that does not parse ends the read
// (a run killed mid-line leaves at most one).
std::vector<MetricsRow> read_rows(const std::string& path, int64_t steps_done) {
  std::vector<MetricsRow> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("step")) break;
    if (!j["step"].is_number() || j["step"].get<double>() > static_cast<double>(steps_done)) break;
    MetricsRow row;
    for (auto it = j.begin(); it != j.end(); ++it) row.emplace_back(it.key(), it->is_number() ? it->get<double>() : NAN);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

MetricsLog::MetricsLog(std::string path, int64_t steps_done) : path_(std::move(path)) {
  if (steps_done > 0) rows_ = read_rows(path_, steps_done);
  std::string kept;
  for (const MetricsRow& row : rows_) kept += row_json(row) + "\n";
  write_file_atomically(path_, kept);
  file_ = std::fopen(path_.c_str(), "ab");
  RSD_CHECK(file_ != nullptr, "cannot append to ", path_, ": ", std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void MetricsLog::write(const MetricsRow& row) {
  const std::string line = row_json(row) + "\n";
  RSD_CHECK(std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0,
            "cannot write to ", path_, ": ", std::strerror(errno));
  rows_.push_back(row);
}

std::vector<std::pair<double, double>> MetricsLog::series(const std::string& column) const {
  std::vector<std::pair<double, double>> out;
  for (const MetricsRow& row : rows_) {
    double step = NAN, value = NAN;
    for (const auto& [key, v] : row) {
      if (key == "step") step = v;
      if (key == column) value = v;
    }
    out.emplace_back(step, value);
  }
  return out;
}

}  // namespace rsd::pretrain
