#include "data/layout_source.h"

#include "engine/error.h"

namespace rsd::data {

LayoutSource::LayoutSource(Dataset dataset) : dataset_(std::move(dataset)) {}

LayoutSource::LayoutSource(const std::string& path, const LayoutOptions& options) : dataset_(discover(path, options)) {}

const SampleRef& LayoutSource::ref(int64_t index) const {
  RSD_CHECK(index >= 0 && index < size(), "dataset ", dataset_.root, ": sample ", index, " is outside [0, ", size(), ")");
  return dataset_.samples[static_cast<size_t>(index)];
}

void LayoutSource::read(int64_t index, Sample& out) const { out = load_sample(ref(index)); }

}  // namespace rsd::data
