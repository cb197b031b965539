// Discovery of EuroSAT-MS class folders, Sen1Floods11 hand-labelled chips and single-modality
// folders of GeoTIFFs.
#include <iterator>
#include <map>
#include <set>

#include "data/layout_util.h"
#include "engine/error.h"

namespace rsd::data::layout_detail {
namespace {

const std::set<std::string> kEuroSatClasses = {"AnnualCrop",    "Forest",      "HerbaceousVegetation", "Highway",
                                               "Industrial",    "Pasture",     "PermanentCrop",        "Residential",
                                               "River",         "SeaLake"};

bool has_class_folders(const fs::path& dir) {
  for (const fs::path& d : subdirs(dir)) {
    if (kEuroSatClasses.count(d.filename().string()) != 0) return true;
  }
  return false;
}

// Sen1Floods11 file kinds by name suffix.
struct ChipFiles {
  fs::path s1, s2, label;
};

const char* const kS1Suffix = "_S1Hand.tif";
const char* const kS2Suffix = "_S2Hand.tif";
const char* const kLabelSuffix = "_LabelHand.tif";

// Chips in `dir` itself and in its S1Hand/, S2Hand/, LabelHand/ folders (the dataset's own
// HandLabeled/ tree), also one level down under HandLabeled/ when pointed at its parent.
void collect_chips(const fs::path& dir, bool descend, std::map<std::string, ChipFiles>* chips) {
  for (const fs::path& f : tif_files(dir)) {
    const std::string n = f.filename().string();
    for (const char* suffix : {kS1Suffix, kS2Suffix, kLabelSuffix}) {
      if (!ends_with(n, suffix)) continue;
      ChipFiles& c = (*chips)[n.substr(0, n.size() - std::string(suffix).size())];
      (suffix == kS1Suffix ? c.s1 : suffix == kS2Suffix ? c.s2 : c.label) = f;
    }
  }
  if (!descend) return;
  for (const char* sub : {"S1Hand", "S2Hand", "LabelHand"}) {
    if (is_dir(dir / sub)) collect_chips(dir / sub, false, chips);
  }
  if (is_dir(dir / "HandLabeled")) collect_chips(dir / "HandLabeled", true, chips);
}

}  // namespace

bool looks_like_eurosat(const fs::path& root) {
  if (has_class_folders(root)) return true;
  for (const fs::path& d : subdirs(root)) {
    if (has_class_folders(d)) return true;
  }
  return false;
}

Dataset discover_eurosat(const fs::path& root, const LayoutOptions&) {
  // (split name, folder holding the class folders)
  std::vector<std::pair<std::string, fs::path>> splits;
  if (has_class_folders(root)) {
    splits.emplace_back("", root);
  } else {
    for (const fs::path& d : subdirs(root)) {
      if (has_class_folders(d)) splits.emplace_back(d.filename().string(), d);
    }
  }
  // Classes: every subfolder holding .tif files, across all splits, sorted by name.
  std::set<std::string> classes;
  for (const auto& split : splits) {
    for (const fs::path& c : subdirs(split.second)) {
      if (!tif_files(c).empty()) classes.insert(c.filename().string());
    }
  }
  Dataset out;
  out.classes.assign(classes.begin(), classes.end());
  for (const auto& split : splits) {
    for (const fs::path& c : subdirs(split.second)) {
      const std::string cls = c.filename().string();
      if (classes.count(cls) == 0) continue;
      const int32_t index = static_cast<int32_t>(std::distance(classes.begin(), classes.find(cls)));
      for (const fs::path& f : tif_files(c)) {
        SampleRef ref;
        ref.id = (split.first.empty() ? "" : split.first + "/") + cls + "/" + f.stem().string();
        ref.split = split.first;
        ref.s2 = {whole_file(f, kEuroSatBands)};
        ref.label.kind = LabelKind::class_name;
        ref.label.names = {cls};
        ref.label.class_index = index;
        out.samples.push_back(std::move(ref));
      }
    }
  }
  if (out.samples.empty()) fail(root.string(), ": no .tif files in EuroSAT class folders");
  std::string split_text;
  for (const auto& s : splits) split_text += (split_text.empty() ? "" : ", ") + (s.first.empty() ? "(none)" : s.first);
  out.description = str_cat("EuroSAT-MS: ", out.samples.size(), " images, ", classes.size(), " classes, splits ",
                            split_text, "; S2 13 bands in EuroSAT's order (B01..B12, then B8A)");
  return out;
}

bool looks_like_sen1floods11(const fs::path& root) {
  std::map<std::string, ChipFiles> chips;
  collect_chips(root, true, &chips);
  for (const auto& c : chips) {
    if (!c.second.s1.empty() || !c.second.s2.empty()) return true;
  }
  return false;
}

Dataset discover_sen1floods11(const fs::path& root, const LayoutOptions&) {
  std::map<std::string, ChipFiles> chips;
  collect_chips(root, true, &chips);
  Dataset out;
  size_t labelled = 0;
  for (const auto& [chip, files] : chips) {
    if (files.s1.empty() && files.s2.empty()) continue;
    SampleRef ref;
    ref.id = chip;
    if (!files.s1.empty()) ref.s1 = {whole_file(files.s1, kS1Bands)};
    if (!files.s2.empty()) ref.s2 = {whole_file(files.s2, kS2L1CBands)};
    if (files.s1.empty() || files.s2.empty()) {
      ref.problem = str_cat((files.s1.empty() ? files.s2 : files.s1).string(), ": its partner ", chip,
                            files.s1.empty() ? kS1Suffix : kS2Suffix, " was not found");
    }
    if (!files.label.empty()) {
      ref.label.kind = LabelKind::map;
      ref.label.map = RasterFile{files.label.string(), {"water"}, {}};
      ref.label.ignore = -1.0f;
      ++labelled;
    }
    out.samples.push_back(std::move(ref));
  }
  if (out.samples.empty()) fail(root.string(), ": no *_S1Hand.tif or *_S2Hand.tif chips found (Sen1Floods11)");
  out.description = str_cat("Sen1Floods11: ", out.samples.size(), " hand-labelled chips (", labelled,
                            " with LabelHand: 1 water, 0 not water, -1 ignore); S1 VV VH, S2 L1C 13 bands");
  return out;
}

Dataset discover_folder(const fs::path& root, const LayoutOptions& options) {
  if (options.modality != "s1" && options.modality != "s2") {
    fail(root.string(), ": a single-modality folder is s1 or s2, not '", options.modality, "'");
  }
  const bool s1 = options.modality == "s1";
  const std::vector<std::string>& bands = s1 ? options.s1_bands : options.s2_bands;
  if (bands.empty()) {
    fail(root.string(), ": a single-modality folder needs its ", options.modality,
         " band names (they are never guessed from a band count)");
  }
  Dataset out;
  for (const fs::path& f : tif_files(root)) {
    SampleRef ref;
    ref.id = f.stem().string();
    (s1 ? ref.s1 : ref.s2) = {whole_file(f, bands)};
    out.samples.push_back(std::move(ref));
  }
  if (out.samples.empty()) fail(root.string(), ": no .tif files in the folder");
  out.description = str_cat("single-modality folder: ", out.samples.size(), " ", options.modality, " images, ",
                            bands.size(), " bands each");
  return out;
}

}  // namespace rsd::data::layout_detail
