#include "data/repeat_source.h"

#include "engine/error.h"

namespace rsd::data {

RepeatSource::RepeatSource(std::shared_ptr<const SampleSource> base, int64_t times)
    : base_(std::move(base)), times_(times) {
  RSD_CHECK(base_ != nullptr && base_->size() > 0, "RepeatSource: the base source is empty");
  RSD_CHECK(times_ >= 1, "RepeatSource: times must be at least 1, got ", times_);
}

}  // namespace rsd::data
