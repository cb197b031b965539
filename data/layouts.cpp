// Layout names, folder helpers, detection and the discover entry points.
#include "data/layouts.h"

#include <algorithm>
#include <cctype>
#include <system_error>

#include "data/layout_util.h"
#include "data/shard_dataset.h"
#include "engine/error.h"

namespace rsd::data {
namespace layout_detail {

const std::vector<std::string> kS1Bands = {"VV", "VH"};
const std::vector<std::string> kS2L1CBands = {"B01", "B02", "B03", "B04", "B05", "B06", "B07",
                                              "B08", "B8A", "B09", "B10", "B11", "B12"};
const std::vector<std::string> kS2L2ABands = {"B01", "B02", "B03", "B04", "B05", "B06",
                                              "B07", "B08", "B8A", "B09", "B11", "B12"};
const std::vector<std::string> kEuroSatBands = {"B01", "B02", "B03", "B04", "B05", "B06", "B07",
                                                "B08", "B09", "B10", "B11", "B12", "B8A"};
const std::vector<std::string> kBigEarthNetBands = {"B01", "B02", "B03", "B04", "B05", "B06",
                                                    "B07", "B08", "B09", "B11", "B12", "B8A"};

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_tif(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".tif" || ext == ".tiff";
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

namespace {

template <typename Keep>
std::vector<fs::path> list_sorted(const fs::path& dir, Keep keep) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) fail(dir.string(), ": cannot list the folder (", ec.message(), ")");
  std::vector<fs::path> out;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) fail(dir.string(), ": cannot list the folder (", ec.message(), ")");
    if (keep(it->path())) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<fs::path> subdirs(const fs::path& dir) { return list_sorted(dir, [](const fs::path& p) { return is_dir(p); }); }

std::vector<fs::path> tif_files(const fs::path& dir) {
  return list_sorted(dir, [](const fs::path& p) { return is_tif(p) && is_file(p); });
}

std::string ssl4eo_file_band(const std::string& band) {
  // rsd's "B01".."B09" are SSL4EO-S12's "B1".."B9"; B8A, B10, B11, B12 are spelled alike.
  if (band.size() == 3 && band[0] == 'B' && band[1] == '0') return std::string("B") + band[2];
  return band;
}

RasterFile whole_file(const fs::path& path, const std::vector<std::string>& bands) {
  return RasterFile{path.string(), bands, {}};
}

std::vector<RasterFile> band_files(const fs::path& dir, const std::string& prefix,
                                   const std::vector<std::string>& bands, bool ssl4eo_names) {
  std::vector<RasterFile> out;
  for (const std::string& b : bands) {
    const std::string name = prefix + (ssl4eo_names ? ssl4eo_file_band(b) : b) + ".tif";
    out.push_back(RasterFile{(dir / name).string(), {b}, {}});
  }
  return out;
}

}  // namespace layout_detail

using namespace layout_detail;

namespace {

struct NamedLayout {
  Layout layout;
  const char* name;
};
constexpr NamedLayout kLayouts[] = {
    {Layout::sen12ms, "sen12ms"},         {Layout::ssl4eo_s12, "ssl4eo-s12"}, {Layout::bigearthnet_mm, "bigearthnet-mm"},
    {Layout::terramesh, "terramesh"},     {Layout::csv_manifest, "csv"},      {Layout::eurosat_ms, "eurosat-ms"},
    {Layout::sen1floods11, "sen1floods11"}, {Layout::dfc2020, "dfc2020"},     {Layout::single_folder, "folder"},
};

std::string known_layouts() {
  std::string out;
  for (const NamedLayout& l : kLayouts) out += (out.empty() ? "" : ", ") + std::string(l.name);
  return out;
}

}  // namespace

std::string layout_name(Layout layout) {
  for (const NamedLayout& l : kLayouts) {
    if (l.layout == layout) return l.name;
  }
  return "unknown";
}

Layout parse_layout(const std::string& name) {
  for (const NamedLayout& l : kLayouts) {
    if (name == l.name) return l.layout;
  }
  fail("unknown dataset layout '", name, "'; known layouts: ", known_layouts());
}

Detection detect_layout(const std::string& path) {
  const fs::path p(path);
  std::error_code ec;
  if (!fs::exists(p, ec)) fail(path, ": no such file or folder");
  if (!is_dir(p)) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".csv") return {Layout::csv_manifest, "a .csv file (CSV manifest of s1, s2, label paths)"};
    fail(path, ": not a dataset folder or a .csv manifest");
  }
  if (is_dir(p / "S1RTC") && (is_dir(p / "S2L1C") || is_dir(p / "S2L2A"))) {
    return {Layout::terramesh, "found S1RTC/ beside S2L1C/ or S2L2A/ (TerraMesh-style folders)"};
  }
  if (looks_like_ssl4eo(p)) {
    return {Layout::ssl4eo_s12, "found s1/, s2c/ or s2a/ holding 7-digit location folders (SSL4EO-S12)"};
  }
  bool has_dfc = false;
  if (looks_like_sen12ms(p, &has_dfc)) {
    if (has_dfc) return {Layout::dfc2020, "found ROIs*/ with s1_*/, s2_*/ and dfc_*/ folders (DFC2020)"};
    return {Layout::sen12ms, "found ROIs*/ with s1_*/ and s2_*/ folders (SEN12MS)"};
  }
  if (looks_like_sen1floods11(p)) {
    return {Layout::sen1floods11, "found *_S1Hand.tif / *_S2Hand.tif chips (Sen1Floods11)"};
  }
  if (looks_like_bigearthnet(p)) {
    return {Layout::bigearthnet_mm, "found patch folders with <patch>_labels_metadata.json (BigEarthNet)"};
  }
  if (looks_like_eurosat(p)) {
    return {Layout::eurosat_ms, "found EuroSAT class folders (AnnualCrop, Forest, ...) of .tif files (EuroSAT-MS)"};
  }
  if (!tif_files(p).empty()) {
    return {Layout::single_folder, "found .tif files and no known dataset structure (single-modality folder)"};
  }
  const std::string unindexed = missing_index_problem(path);  // packed shards without their dataset.json
  if (!unindexed.empty()) fail(unindexed);
  fail(path, ": no known dataset layout found (looked for S1RTC/+S2L1C|S2L2A/ (TerraMesh), s1|s2c|s2a/<7 digits>/ "
       "(SSL4EO-S12), ROIs*/s2_*/ (SEN12MS, DFC2020 with dfc_*/), *_S1Hand.tif (Sen1Floods11), "
       "<patch>/<patch>_labels_metadata.json (BigEarthNet), EuroSAT class folders, or .tif files); "
       "name a layout explicitly (", known_layouts(), ")");
}

Dataset discover(const std::string& path, Layout layout, const LayoutOptions& options) {
  const fs::path root(path);
  std::error_code ec;
  if (!fs::exists(root, ec)) fail(path, ": no such file or folder");
  if (layout != Layout::csv_manifest && !is_dir(root)) fail(path, ": not a folder (layout ", layout_name(layout), ")");
  Dataset out;
  switch (layout) {
    case Layout::sen12ms: case Layout::dfc2020: out = discover_sen12ms(root, layout, options); break;
    case Layout::ssl4eo_s12: out = discover_ssl4eo(root, options); break;
    case Layout::bigearthnet_mm: out = discover_bigearthnet(root, options); break;
    case Layout::terramesh: out = discover_terramesh(root, options); break;
    case Layout::csv_manifest: out = discover_csv(root, options); break;
    case Layout::eurosat_ms: out = discover_eurosat(root, options); break;
    case Layout::sen1floods11: out = discover_sen1floods11(root, options); break;
    case Layout::single_folder: out = discover_folder(root, options); break;
  }
  out.layout = layout;
  out.root = path;
  for (SampleRef& s : out.samples) {
    s.layout = layout;
    s.footprint_tolerance_px = options.footprint_tolerance_px;
  }
  return out;
}

Dataset discover(const std::string& path, const LayoutOptions& options) {
  const Detection found = detect_layout(path);
  Dataset out = discover(path, found.layout, options);
  out.description = str_cat(out.description, " [detected: ", found.reason, "]");
  return out;
}

std::optional<Sample> try_load_sample(const SampleRef& ref, std::string* error) {
  try {
    return load_sample(ref);
  } catch (const std::exception& e) {
    if (error != nullptr) *error = e.what();
    return std::nullopt;
  }
}

}  // namespace rsd::data
