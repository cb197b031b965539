// Discovery from a CSV manifest: one row per sample with its S1 path, S2 path and optional label.
//   # s1_bands: VV VH
//   # s2_bands: B02 B03 B04 B08
//   s1,s2,label
//   pairs/a_s1.tif,pairs/a_s2.tif,Forest
#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include "data/layout_util.h"
#include "engine/error.h"

namespace rsd::data::layout_detail {
namespace {

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  const size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// One CSV row: comma-separated, fields may be double-quoted ("" is a quote inside quotes). A quote
// left open is an error (`where`: file and line): the rest of the row would silently become one
// field, and a path or label taken from it would be wrong.
std::vector<std::string> split_row(const std::string& line, const std::string& where) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  size_t opened_at = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
      if (quoted) opened_at = i;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  RSD_CHECK(!quoted, where, ": the double quote at column ", opened_at + 1,
            " is never closed (a row is one line; a quote inside a quoted field is written \"\"): close it or remove it");
  for (std::string& f : fields) f = trim(f);
  return fields;
}

std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text + " ") {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

struct Columns {
  int s1 = 0, s2 = 1, label = 2;
};

// A header row names only the columns s1, s2, label (any order, each at most once).
bool parse_header(const std::vector<std::string>& fields, Columns* cols) {
  Columns c{-1, -1, -1};
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string f = lower(fields[i]);
    int* slot = f == "s1" ? &c.s1 : f == "s2" ? &c.s2 : f == "label" ? &c.label : nullptr;
    if (slot == nullptr || *slot >= 0) return false;
    *slot = static_cast<int>(i);
  }
  *cols = c;
  return true;
}

std::string field(const std::vector<std::string>& row, int column) {
  return column >= 0 && static_cast<size_t>(column) < row.size() ? row[static_cast<size_t>(column)] : "";
}

}  // namespace

Dataset discover_csv(const fs::path& csv, const LayoutOptions& options) {
  std::ifstream in(csv);
  if (!in) fail(csv.string(), ": cannot open the CSV manifest");
  const fs::path base = csv.parent_path();
  std::vector<std::string> s1_bands = options.s1_bands, s2_bands = options.s2_bands;
  std::vector<std::string> file_s1, file_s2;
  Columns cols;
  bool first_row = true;
  Dataset out;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    const std::string t = trim(line);
    if (t.empty()) continue;
    if (t[0] == '#') {
      const std::string body = trim(t.substr(1));
      if (starts_with(lower(body), "s1_bands:")) file_s1 = split_names(body.substr(9));
      if (starts_with(lower(body), "s2_bands:")) file_s2 = split_names(body.substr(9));
      continue;
    }
    const std::string where = str_cat(csv.string(), ":", line_no);
    const std::vector<std::string> row = split_row(t, where);
    if (first_row && parse_header(row, &cols)) {
      first_row = false;
      continue;
    }
    first_row = false;
    if (s1_bands.empty()) s1_bands = file_s1;
    if (s2_bands.empty()) s2_bands = file_s2;
    const std::string s1 = field(row, cols.s1), s2 = field(row, cols.s2), label = field(row, cols.label);
    if (s1.empty() && s2.empty()) fail(where, ": neither an s1 nor an s2 path");
    if (!s1.empty() && s1_bands.empty()) {
      fail(where, ": an S1 path but no S1 band names (give them as options or a '# s1_bands: VV VH' line)");
    }
    if (!s2.empty() && s2_bands.empty()) {
      fail(where, ": an S2 path but no S2 band names (give them as options or a '# s2_bands: B02 B03 ...' line)");
    }
    SampleRef ref;
    ref.id = fs::path(s2.empty() ? s1 : s2).replace_extension().generic_string();
    if (!s1.empty()) ref.s1 = {whole_file(base / s1, s1_bands)};
    if (!s2.empty()) ref.s2 = {whole_file(base / s2, s2_bands)};
    if (is_tif(label)) {
      ref.label.kind = LabelKind::map;
      ref.label.map = RasterFile{(base / label).string(), {"label"}, {}};
    } else if (!label.empty()) {
      ref.label.kind = LabelKind::class_name;
      ref.label.names = {label};
    }
    out.samples.push_back(std::move(ref));
  }
  if (out.samples.empty()) fail(csv.string(), ": the CSV manifest lists no samples");

  std::set<std::string> classes;
  for (const SampleRef& s : out.samples) {
    if (s.label.kind == LabelKind::class_name) classes.insert(s.label.names[0]);
  }
  out.classes.assign(classes.begin(), classes.end());
  for (SampleRef& s : out.samples) {
    if (s.label.kind != LabelKind::class_name) continue;
    s.label.class_index = static_cast<int32_t>(
        std::lower_bound(out.classes.begin(), out.classes.end(), s.label.names[0]) - out.classes.begin());
  }
  out.description = str_cat("CSV manifest: ", out.samples.size(), " rows; S1 bands [", s1_bands.size(), "], S2 bands [",
                            s2_bands.size(), "]", classes.empty() ? "" : str_cat("; ", classes.size(), " classes"));
  return out;
}

}  // namespace rsd::data::layout_detail
