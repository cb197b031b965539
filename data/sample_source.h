// What the loader reads from: a random-access set of samples. Sources are read by several worker
// threads at once, so read() and view() must be thread-safe (const and without shared scratch).
//   - read(i, out) decodes sample i into `out`, reusing out's buffers (each worker keeps one Sample,
//     so a steady state allocates nothing for pixels);
//   - view(i, out) is the zero-copy variant for storage that already holds float32 (H, W, C)
//     pixels, such as a memory-mapped shard: it points `out` into that storage and returns true,
//     or returns false when the source cannot (the loader then calls read()).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/sample.h"

namespace rsd::data {

// A borrowed, read-only image of one raster: pixels (height, width, channels) float32 interleaved.
// Validity is one byte per element (a decoded Raster), or bit-packed (a shard record: element e is
// bit e % 8 of byte e / 8), or absent when every element is valid.
struct PixelView {
  const float* pixels = nullptr;                    // null when the sample has no such raster
  const uint8_t* valid = nullptr;                   // one byte per element, or null
  const uint8_t* valid_bits = nullptr;              // bit-packed, or null
  int64_t invalid_count = 0;
  int64_t height = 0, width = 0, channels = 0;
  const std::vector<std::string>* bands = nullptr;  // channel names, when known

  bool present() const { return pixels != nullptr; }
  int64_t numel() const { return height * width * channels; }
  bool is_valid(int64_t e) const {
    if (invalid_count == 0) return true;
    if (valid != nullptr) return valid[e] != 0;
    return valid_bits == nullptr || ((valid_bits[e >> 3] >> (e & 7)) & 1u) != 0;
  }
};

// A borrowed image of one sample; valid while the storage it points into is.
struct SampleView {
  std::string_view id;
  PixelView s1, s2, label_map;
  int32_t class_index = -1;  // -1: no single label
};

// A view into a decoded Sample.
PixelView view_of(const Raster& r);
SampleView view_of(const Sample& s);

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual int64_t size() const = 0;
  virtual void read(int64_t index, Sample& out) const = 0;
  virtual bool view(int64_t index, SampleView& out) const { return false; }
  // The sample's id for messages (an error in a worker names it); cheap, no decoding.
  virtual std::string id(int64_t index) const;
};

// Samples held in memory: for tests, and for small datasets decoded once.
class InMemorySource final : public SampleSource {
 public:
  explicit InMemorySource(std::vector<Sample> samples) : samples_(std::move(samples)) {}
  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  void read(int64_t index, Sample& out) const override;
  bool view(int64_t index, SampleView& out) const override;
  std::string id(int64_t index) const override;
  const Sample& at(int64_t index) const;

 private:
  std::vector<Sample> samples_;
};

}  // namespace rsd::data
