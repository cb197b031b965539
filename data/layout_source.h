// The loader's source over a dataset folder read directly from its GeoTIFFs (data/layouts.h): each
// read() loads the sample's files with GDAL, so every epoch decodes them again. For training at
// scale, pack the dataset into shards (`rsd pack`) and use ShardSource; this source is for small
// datasets and for measuring what packing saves. Without GDAL, read() is an rsd::Error saying so.
#pragma once
#include <string>

#include "data/layouts.h"
#include "data/sample_source.h"

namespace rsd::data {

class LayoutSource final : public SampleSource {
 public:
  explicit LayoutSource(Dataset dataset);
  // Discovers `path` (its layout detected) and reads its samples.
  explicit LayoutSource(const std::string& path, const LayoutOptions& options = {});

  int64_t size() const override { return static_cast<int64_t>(dataset_.samples.size()); }
  void read(int64_t index, Sample& out) const override;
  std::string id(int64_t index) const override { return ref(index).id; }
  const Dataset& dataset() const { return dataset_; }

 private:
  const SampleRef& ref(int64_t index) const;
  Dataset dataset_;
};

}  // namespace rsd::data
