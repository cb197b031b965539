// Internal to the layout discovery files (data/layouts*.cpp): folder listing, band lists and the
// per-layout discover functions.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "data/layouts.h"

namespace rsd::data::layout_detail {

namespace fs = std::filesystem;

// Band orders, as each dataset stores them.
extern const std::vector<std::string> kS1Bands;         // VV VH
extern const std::vector<std::string> kS2L1CBands;      // B01..B08 B8A B09 B10 B11 B12
extern const std::vector<std::string> kS2L2ABands;      // B01..B08 B8A B09 B11 B12
extern const std::vector<std::string> kEuroSatBands;    // B01..B12 B8A
extern const std::vector<std::string> kBigEarthNetBands;  // B01..B09 B11 B12 B8A

bool is_tif(const fs::path& p);
bool is_dir(const fs::path& p);
bool is_file(const fs::path& p);
bool starts_with(const std::string& s, const std::string& prefix);
bool ends_with(const std::string& s, const std::string& suffix);
// Subfolders / .tif files of `dir`, sorted by name; an rsd::Error naming `dir` if unreadable.
std::vector<fs::path> subdirs(const fs::path& dir);
std::vector<fs::path> tif_files(const fs::path& dir);
// "B8A" -> "B8A", "B1" -> "B01": SSL4EO-S12's file names to rsd's band names and back.
std::string ssl4eo_file_band(const std::string& band);

// One file holding `bands` in order.
RasterFile whole_file(const fs::path& path, const std::vector<std::string>& bands);
// One single-band file per band: dir / (prefix + file_band(band) + ".tif").
std::vector<RasterFile> band_files(const fs::path& dir, const std::string& prefix,
                                   const std::vector<std::string>& bands, bool ssl4eo_names);

Dataset discover_sen12ms(const fs::path& root, Layout layout, const LayoutOptions& options);  // and DFC2020
Dataset discover_ssl4eo(const fs::path& root, const LayoutOptions& options);
Dataset discover_bigearthnet(const fs::path& root, const LayoutOptions& options);
Dataset discover_terramesh(const fs::path& root, const LayoutOptions& options);
Dataset discover_csv(const fs::path& csv, const LayoutOptions& options);
Dataset discover_eurosat(const fs::path& root, const LayoutOptions& options);
Dataset discover_sen1floods11(const fs::path& root, const LayoutOptions& options);
Dataset discover_folder(const fs::path& root, const LayoutOptions& options);

// Folder-structure tests used by detect_layout.
bool looks_like_sen12ms(const fs::path& root, bool* has_dfc);
bool looks_like_ssl4eo(const fs::path& root);
bool looks_like_bigearthnet(const fs::path& root);
bool looks_like_eurosat(const fs::path& root);
bool looks_like_sen1floods11(const fs::path& root);

}  // namespace rsd::data::layout_detail
