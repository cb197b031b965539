// CSV manifests (data/layouts.h, data/layouts_csv.cpp): the input is the .csv file. It is detected
// and discovered as `rsd pack` and `rsd info` do (band names from its comment lines), then again
// with band names given as options. Discovery reads no raster, so none is needed.
#include "data/inspect.h"
#include "data/layouts.h"
#include "engine/error.h"
#include "fuzz/fuzz_target.h"

namespace {

constexpr const char* kTarget = "csv_manifest";

void check_dataset(const rsd::data::Dataset& ds, const std::string& path) {
  using rsd::str_cat;
  rsd::fuzz::require(!ds.samples.empty(), kTarget, str_cat(path, ": discovered no sample without an error"));
  for (const rsd::data::SampleRef& s : ds.samples) {
    rsd::fuzz::require(!s.s1.empty() || !s.s2.empty(), kTarget, str_cat(path, ": sample '", s.id, "' has no raster"));
    if (s.label.kind == rsd::data::LabelKind::class_name) {
      rsd::fuzz::require(s.label.class_index >= 0 && static_cast<size_t>(s.label.class_index) < ds.classes.size() &&
                             ds.classes[static_cast<size_t>(s.label.class_index)] == s.label.names.at(0),
                         kTarget, str_cat(path, ": sample '", s.id, "' has class index ", s.label.class_index));
    }
  }
}

}  // namespace

RSD_FUZZ_TARGET(csv_manifest) {
  using namespace rsd;
  const std::string path = fuzz::input_file(kTarget, "manifest.csv", data, size);
  fuzz::expect_clean(kTarget, {path}, [&] {
    const data::Detection d = data::detect_layout(path);
    fuzz::require(d.layout == data::Layout::csv_manifest, kTarget, "a .csv file not detected as a CSV manifest");
    check_dataset(data::discover(path, d.layout), path);
  });
  fuzz::expect_clean(kTarget, {path}, [&] {
    data::LayoutOptions options;
    options.s1_bands = {"VV", "VH"};
    options.s2_bands = {"B02", "B03", "B04", "B08"};
    check_dataset(data::discover(path, data::Layout::csv_manifest, options), path);
  });
  data::InfoOptions options;
  options.progress = false;
  fuzz::expect_clean(kTarget, {path}, [&] { (void)data::describe_path(path, options); });
}
