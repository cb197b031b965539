#include "data/sample_source.h"

#include "engine/error.h"

namespace rsd::data {

PixelView view_of(const Raster& r) {
  PixelView v;
  v.pixels = r.pixels.data();
  v.valid = r.valid.empty() ? nullptr : r.valid.data();
  v.invalid_count = r.invalid_count;
  v.height = r.height;
  v.width = r.width;
  v.channels = r.channels();
  v.bands = &r.bands;
  return v;
}

SampleView view_of(const Sample& s) {
  SampleView v;
  v.id = s.id;
  if (s.s1) v.s1 = view_of(*s.s1);
  if (s.s2) v.s2 = view_of(*s.s2);
  if (s.labels.map) v.label_map = view_of(*s.labels.map);
  v.class_index = s.labels.class_index;
  return v;
}

std::string SampleSource::id(int64_t index) const { return str_cat("#", index); }

const Sample& InMemorySource::at(int64_t index) const {
  RSD_CHECK(index >= 0 && index < size(), "in-memory source: sample ", index, " is outside [0, ", size(), ")");
  return samples_[static_cast<size_t>(index)];
}

void InMemorySource::read(int64_t index, Sample& out) const { out = at(index); }

bool InMemorySource::view(int64_t index, SampleView& out) const {
  out = view_of(at(index));
  return true;
}

std::string InMemorySource::id(int64_t index) const { return at(index).id; }

}  // namespace rsd::data
