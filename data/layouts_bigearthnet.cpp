// Discovery of BigEarthNet-MM: S1 and S2 patch folders, paired through the S1 patch's
// <name>_labels_metadata.json ("corresponding_s2_patch"), multi-labels from the same file.
#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/layout_util.h"
#include "engine/error.h"

namespace rsd::data::layout_detail {
namespace {

struct Patch {
  fs::path dir;
  std::string name;
};

fs::path metadata_of(const Patch& p) { return p.dir / (p.name + "_labels_metadata.json"); }
bool is_s1_patch(const fs::path& d) { return is_file(d / (d.filename().string() + "_VV.tif")); }
bool is_s2_patch(const fs::path& d) { return is_file(d / (d.filename().string() + "_B02.tif")); }
bool is_patch(const fs::path& d) {
  return is_file(d / (d.filename().string() + "_labels_metadata.json")) || is_s1_patch(d) || is_s2_patch(d);
}

// Patch folders at depth 1 or 2 under root (BigEarthNet-S1/<patch>/ or root/<patch>/). Stops after
// the first when `first_only`.
std::vector<fs::path> find_patches(const fs::path& root, bool first_only) {
  std::vector<fs::path> out;
  for (const fs::path& d : subdirs(root)) {
    if (is_patch(d)) {
      out.push_back(d);
    } else {
      for (const fs::path& e : subdirs(d)) {
        if (is_patch(e)) out.push_back(e);
        if (first_only && !out.empty()) return out;
      }
    }
    if (first_only && !out.empty()) return out;
  }
  return out;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) fail(path.string(), ": cannot open BigEarthNet metadata");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const std::exception& e) {
    fail(path.string(), ": not valid JSON (", e.what(), ")");
  }
}

std::vector<std::string> labels_of(const nlohmann::json& meta, const fs::path& path) {
  if (!meta.contains("labels") || !meta["labels"].is_array()) fail(path.string(), ": no \"labels\" list");
  std::vector<std::string> out;
  for (const auto& l : meta["labels"]) {
    if (!l.is_string()) fail(path.string(), ": a label is not a string");
    out.push_back(l.get<std::string>());
  }
  return out;
}

SampleRef s2_only(const Patch& p) {
  SampleRef ref;
  ref.id = p.name;
  ref.s2 = band_files(p.dir, p.name + "_", kBigEarthNetBands, false);
  ref.label.kind = LabelKind::multi_label;
  try {
    ref.label.names = labels_of(read_json(metadata_of(p)), metadata_of(p));
  } catch (const Error& e) {
    ref.problem = e.what();
  }
  return ref;
}

SampleRef paired(const Patch& s1, const std::map<std::string, fs::path>& s2_by_name, size_t* matched_s2) {
  SampleRef ref;
  ref.id = s1.name;
  ref.s1 = band_files(s1.dir, s1.name + "_", kS1Bands, false);
  ref.label.kind = LabelKind::multi_label;
  const fs::path meta_path = metadata_of(s1);
  try {
    const nlohmann::json meta = read_json(meta_path);
    ref.label.names = labels_of(meta, meta_path);
    if (!meta.contains("corresponding_s2_patch") || !meta["corresponding_s2_patch"].is_string()) {
      fail(meta_path.string(), ": no \"corresponding_s2_patch\" naming the S2 partner");
    }
    const std::string partner = meta["corresponding_s2_patch"].get<std::string>();
    const auto it = s2_by_name.find(partner);
    if (it == s2_by_name.end()) {
      fail(meta_path.string(), ": its S2 partner ", partner, " (corresponding_s2_patch) is not in the dataset");
    }
    ref.id = partner;
    ref.s2 = band_files(it->second, partner + "_", kBigEarthNetBands, false);
    ++*matched_s2;
  } catch (const Error& e) {
    ref.problem = e.what();
  }
  return ref;
}

}  // namespace

bool looks_like_bigearthnet(const fs::path& root) { return !find_patches(root, true).empty(); }

Dataset discover_bigearthnet(const fs::path& root, const LayoutOptions&) {
  std::vector<Patch> s1;
  std::map<std::string, fs::path> s2_by_name;
  std::vector<Patch> s2;
  for (const fs::path& d : find_patches(root, false)) {
    const Patch p{d, d.filename().string()};
    if (is_s1_patch(d)) s1.push_back(p);
    if (is_s2_patch(d)) {
      s2.push_back(p);
      s2_by_name[p.name] = d;
    }
  }
  if (s1.empty() && s2.empty()) fail(root.string(), ": no BigEarthNet patch folders (<patch>/<patch>_B02.tif or _VV.tif)");
  Dataset out;
  if (s1.empty()) {
    for (const Patch& p : s2) out.samples.push_back(s2_only(p));
    out.description = str_cat("BigEarthNet (S2 only): ", out.samples.size(),
                              " patches; S2 L2A 12 bands at 10/20/60 m resampled onto 120 x 120; multi-labels");
    return out;
  }
  size_t matched = 0;
  for (const Patch& p : s1) out.samples.push_back(paired(p, s2_by_name, &matched));
  out.description = str_cat("BigEarthNet-MM: ", out.samples.size(), " S1 patches, ", matched,
                            " paired with S2 through corresponding_s2_patch (", s2.size() - std::min(matched, s2.size()),
                            " S2 patches without an S1 partner left out); S1 VV VH, S2 L2A 12 bands at 10/20/60 m "
                            "resampled onto 120 x 120; multi-labels");
  return out;
}

}  // namespace rsd::data::layout_detail
