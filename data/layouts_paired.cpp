// Discovery of the paired S1/S2 layouts stored as folders of GeoTIFFs: SEN12MS and DFC2020,
// SSL4EO-S12, TerraMesh-style folders.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include "data/layout_util.h"
#include "engine/error.h"

namespace rsd::data::layout_detail {
namespace {

// SEN12MS / DFC2020 -------------------------------------------------------------------------------

// The ROIs* folders: `root` itself when it is one, else its ROIs* subfolders.
std::vector<fs::path> roi_dirs(const fs::path& root) {
  if (starts_with(root.filename().string(), "ROIs")) return {root};
  std::vector<fs::path> out;
  for (const fs::path& d : subdirs(root)) {
    if (starts_with(d.filename().string(), "ROIs")) out.push_back(d);
  }
  return out;
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// SSL4EO-S12 ----------------------------------------------------------------------------------------

bool is_location(const fs::path& p) {
  const std::string n = p.filename().string();
  return n.size() == 7 && std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// Days since 1970-01-01 of the first YYYYMMDD in a season folder's name, or -1 if there is none.
long season_day(const std::string& name) {
  for (size_t i = 0; i + 8 <= name.size(); ++i) {
    const bool digits = std::all_of(name.begin() + static_cast<long>(i), name.begin() + static_cast<long>(i + 8),
                                    [](unsigned char c) { return std::isdigit(c) != 0; });
    if (!digits) continue;
    const long y0 = std::atol(name.substr(i, 4).c_str()), m = std::atol(name.substr(i + 4, 2).c_str()),
               d = std::atol(name.substr(i + 6, 2).c_str());
    if (m < 1 || m > 12 || d < 1 || d > 31) continue;
    // Civil date to days (proleptic Gregorian; March-based year so leap days come last).
    const long y = m <= 2 ? y0 - 1 : y0;
    const long era = (y >= 0 ? y : y - 399) / 400;
    const long yoe = y - era * 400;
    const long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
  }
  return -1;
}

// For each S2 season, the index of its S1 season, or -1: the pairs closest in date are taken
// first (each S1 season used once), so a missing season leaves the S2 season farthest from any
// S1 unpaired rather than shifting every later pair. Without dates in the names, seasons pair in
// sorted order.
std::vector<long> pair_seasons(const std::vector<fs::path>& s2, const std::vector<fs::path>& s1) {
  struct Candidate {
    long gap;
    size_t i, j;
  };
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < s2.size(); ++i) {
    const long day = season_day(s2[i].filename().string());
    for (size_t j = 0; j < s1.size(); ++j) {
      const long other = season_day(s1[j].filename().string());
      const long gap = (day < 0 || other < 0) ? std::labs(static_cast<long>(i) - static_cast<long>(j))
                                              : std::labs(day - other);
      candidates.push_back({gap, i, j});
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.gap < b.gap; });
  std::vector<long> out(s2.size(), -1);
  std::vector<bool> used(s1.size(), false);
  for (const Candidate& c : candidates) {
    if (out[c.i] >= 0 || used[c.j]) continue;
    out[c.i] = static_cast<long>(c.j);
    used[c.j] = true;
  }
  return out;
}

std::string s2_folder_choice(const fs::path& root, S2Product product, const std::string& l1c,
                             const std::string& l2a) {
  switch (product) {
    case S2Product::l1c: return l1c;
    case S2Product::l2a: return l2a;
    case S2Product::automatic: break;
  }
  return is_dir(root / l1c) ? l1c : l2a;
}

}  // namespace

bool looks_like_sen12ms(const fs::path& root, bool* has_dfc) {
  bool found = false;
  for (const fs::path& roi : roi_dirs(root)) {
    for (const fs::path& d : subdirs(roi)) {
      const std::string n = d.filename().string();
      found = found || starts_with(n, "s2_");
      if (starts_with(n, "dfc_")) *has_dfc = true;
    }
  }
  return found;
}

Dataset discover_sen12ms(const fs::path& root, Layout layout, const LayoutOptions&) {
  const bool dfc = layout == Layout::dfc2020;
  const std::string label_tag = dfc ? "dfc" : "lc";
  Dataset out;
  size_t rois = 0;
  for (const fs::path& roi : roi_dirs(root)) {
    ++rois;
    const std::string roi_name = roi.filename().string();
    // DFC2020's ROI folders name their split: ROIs0000_test, ROIs0000_validation.
    const size_t underscore = roi_name.find('_');
    const std::string split = dfc && underscore != std::string::npos ? roi_name.substr(underscore + 1) : "";
    for (const fs::path& s2dir : subdirs(roi)) {
      const std::string dir_name = s2dir.filename().string();
      if (!starts_with(dir_name, "s2_")) continue;
      const std::string scene = dir_name.substr(3);
      const fs::path s1dir = roi / ("s1_" + scene), label_dir = roi / (label_tag + "_" + scene);
      for (const fs::path& f : tif_files(s2dir)) {
        const std::string name = f.filename().string();
        if (name.find("_s2_") == std::string::npos) continue;
        SampleRef ref;
        ref.id = replace_once(f.stem().string(), "_s2_", "_");
        ref.split = split;
        ref.s1 = {whole_file(s1dir / replace_once(name, "_s2_", "_s1_"), kS1Bands)};
        ref.s2 = {whole_file(f, kS2L1CBands)};
        const fs::path label = label_dir / replace_once(name, "_s2_", "_" + label_tag + "_");
        if (is_dir(label_dir)) {
          ref.label.kind = LabelKind::map;
          // SEN12MS's lc files hold four MODIS schemes; band 1 is IGBP. DFC2020's hold one band.
          ref.label.map = RasterFile{label.string(), {dfc ? "DFC" : "IGBP"}, {1}};
        }
        out.samples.push_back(std::move(ref));
      }
    }
  }
  if (out.samples.empty()) fail(root.string(), ": no ROIs*/s2_*/*_s2_*.tif files found (", layout_name(layout), ")");
  out.description = str_cat(dfc ? "DFC2020" : "SEN12MS", ": ", out.samples.size(), " S1/S2 pairs in ", rois,
                            " ROI folder(s); S1 VV VH, S2 L1C 13 bands; labels ",
                            dfc ? "dfc_* (DFC classes)" : "lc_* band 1 (IGBP) where present");
  return out;
}

bool looks_like_ssl4eo(const fs::path& root) {
  for (const char* product : {"s1", "s2c", "s2a"}) {
    if (!is_dir(root / product)) continue;
    std::error_code ec;
    for (fs::directory_iterator it(root / product, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      if (is_location(it->path()) && is_dir(it->path())) return true;
    }
  }
  return false;
}

Dataset discover_ssl4eo(const fs::path& root, const LayoutOptions& options) {
  const std::string s2name = s2_folder_choice(root, options.s2_product, "s2c", "s2a");
  const std::vector<std::string>& s2bands = s2name == "s2c" ? kS2L1CBands : kS2L2ABands;
  const fs::path s1root = root / "s1", s2root = root / s2name;
  const bool has_s1 = is_dir(s1root), has_s2 = is_dir(s2root);
  if (!has_s2 && !has_s1) fail(root.string(), ": neither s1/ nor ", s2name, "/ found (SSL4EO-S12)");

  Dataset out;
  std::vector<fs::path> locations;
  for (const fs::path& d : subdirs(has_s2 ? s2root : s1root)) {
    if (is_location(d)) locations.push_back(d.filename());
  }
  for (const fs::path& loc : locations) {
    auto by_date = [](std::vector<fs::path> v) {
      std::stable_sort(v.begin(), v.end(), [](const fs::path& a, const fs::path& b) {
        return season_day(a.filename().string()) < season_day(b.filename().string());
      });
      return v;
    };
    const std::vector<fs::path> s1seasons = has_s1 && is_dir(s1root / loc) ? by_date(subdirs(s1root / loc))
                                                                           : std::vector<fs::path>{};
    if (!has_s2) {
      for (const fs::path& season : s1seasons) {
        SampleRef ref;
        ref.id = (loc / season.filename()).generic_string();
        ref.s1 = band_files(season, "", kS1Bands, false);
        out.samples.push_back(std::move(ref));
      }
      continue;
    }
    const std::vector<fs::path> s2seasons = by_date(subdirs(s2root / loc));
    const std::vector<long> partner = pair_seasons(s2seasons, s1seasons);
    for (size_t i = 0; i < s2seasons.size(); ++i) {
      SampleRef ref;
      ref.id = (loc / s2seasons[i].filename()).generic_string();
      ref.s2 = band_files(s2seasons[i], "", s2bands, true);
      if (has_s1 && partner[i] >= 0) {
        ref.s1 = band_files(s1seasons[static_cast<size_t>(partner[i])], "", kS1Bands, false);
      } else if (has_s1) {
        ref.problem = str_cat((s1root / loc).string(), ": no S1 acquisition left to pair with ",
                              s2seasons[i].string(), " (SSL4EO-S12 pairs seasons by date)");
      }
      out.samples.push_back(std::move(ref));
    }
  }
  if (out.samples.empty()) fail(root.string(), ": no SSL4EO-S12 location folders with acquisitions found");
  out.description = str_cat("SSL4EO-S12: ", out.samples.size(), " acquisitions in ", locations.size(),
                            " locations; ", has_s1 ? "S1 VV VH" : "no S1", has_s1 && has_s2 ? " + " : "",
                            has_s2 ? str_cat(s2name, " (S2 ", s2name == "s2c" ? "L1C 13" : "L2A 12", " bands)") : "",
                            "; one file per band, resampled onto the 10 m grid");
  return out;
}

Dataset discover_terramesh(const fs::path& root, const LayoutOptions& options) {
  const std::string s2name = s2_folder_choice(root, options.s2_product, "S2L1C", "S2L2A");
  const std::vector<std::string>& s2bands = s2name == "S2L1C" ? kS2L1CBands : kS2L2ABands;
  const fs::path s1dir = root / "S1RTC", s2dir = root / s2name, lulc = root / "LULC";
  if (!is_dir(s2dir)) fail(root.string(), ": ", s2name, "/ not found (TerraMesh-style folders)");

  std::set<std::string> names;
  for (const fs::path& f : tif_files(s2dir)) names.insert(f.filename().string());
  if (is_dir(s1dir)) {
    for (const fs::path& f : tif_files(s1dir)) names.insert(f.filename().string());
  }
  Dataset out;
  size_t labelled = 0;
  for (const std::string& name : names) {
    SampleRef ref;
    ref.id = fs::path(name).stem().string();
    ref.s1 = {whole_file(s1dir / name, kS1Bands)};
    ref.s2 = {whole_file(s2dir / name, s2bands)};
    if (is_file(lulc / name)) {
      ref.label.kind = LabelKind::map;
      ref.label.map = RasterFile{(lulc / name).string(), {"LULC"}, {}};
      ++labelled;
    }
    out.samples.push_back(std::move(ref));
  }
  if (out.samples.empty()) fail(root.string(), ": no .tif files in S1RTC/ or ", s2name, "/");
  out.description = str_cat("TerraMesh-style: ", out.samples.size(), " places; S1RTC (VV VH) + ", s2name, " (",
                            s2bands.size(), " bands)", options.s2_product == S2Product::automatic ? " (S2 product chosen automatically: L1C when present)" : "",
                            "; ", labelled, " with a LULC map");
  return out;
}

}  // namespace rsd::data::layout_detail
