// A source that visits every sample of another `times` times per epoch: index i is sample
// i % n of the base. Small datasets (the shipped samples: 5 places of 224 x 224 px) become epochs
// of many random crops, each repetition with its own augmentation (views are keyed by this index).
#pragma once
#include <memory>

#include "data/sample_source.h"

namespace rsd::data {

class RepeatSource final : public SampleSource {
 public:
  RepeatSource(std::shared_ptr<const SampleSource> base, int64_t times);
  int64_t size() const override { return base_->size() * times_; }
  void read(int64_t index, Sample& out) const override { base_->read(index % base_->size(), out); }
  bool view(int64_t index, SampleView& out) const override { return base_->view(index % base_->size(), out); }
  std::string id(int64_t index) const override { return base_->id(index % base_->size()); }

 private:
  std::shared_ptr<const SampleSource> base_;
  int64_t times_;
};

}  // namespace rsd::data
