// Dataset layouts: finding the samples of a dataset folder (which files hold S1, S2 and labels of
// one place, and which bands each file holds) and loading one sample.
//
// Discovery (detect_layout, discover) only looks at names, folders and small JSON/CSV files; it
// needs no GDAL. Loading (load_sample, try_load_sample) reads GeoTIFFs and needs GDAL; without it
// they throw an rsd::Error saying so.
//
// Band names are explicit per layout (S2 "B01".."B12", "B8A"; S1 "VV", "VH") and follow each
// dataset's own band order, so a 12-band L2A file and a 13-band L1C file are never confused; a file
// whose band count differs from its layout's list is an error naming the file and both counts.
//
// Layouts (the name `rsd` accepts in parentheses):
//   (a) paired S1/S2
//   - SEN12MS (sen12ms): ROIs<n>_<season>/s1_<scene>/*_s1_*.tif (VV, VH),
//     s2_<scene>/*_s2_*.tif (13 L1C bands B01..B08, B8A, B09..B12), lc_<scene>/*_lc_*.tif (label
//     map: band 1, IGBP).
//   - SSL4EO-S12 (ssl4eo-s12): s1/<7-digit location>/<season>/{VV,VH}.tif and
//     s2c/ (L1C, 13 bands) or s2a/ (L2A, 12 bands, no B10) .../<season>/B1.tif .. B12.tif, B8A.tif,
//     one file per band at native resolution (10 m 264 px, 20 m 132 px, 60 m 44 px), stacked on
//     the 10 m grid. S1 and S2 seasons of a location are paired by acquisition date (the first
//     YYYYMMDD in each season folder's name), closest pairs first, each S1 season used once; an S2
//     season left without S1 is a per-sample error.
//   - BigEarthNet-MM (bigearthnet-mm): S1 patch folders (<name>/<name>_VV.tif, _VH.tif,
//     _labels_metadata.json) and S2 patch folders (<name>/<name>_B01.tif .. _B12.tif, _B8A.tif:
//     L2A, 12 bands at native resolution, stacked on the 10 m 120 x 120 grid in BigEarthNet's
//     order B01..B09, B11, B12, B8A), paired by the S1 metadata's "corresponding_s2_patch"; the
//     multi-labels come from that metadata. Without S1 folders, S2-only samples.
//   - TerraMesh-style (terramesh): S1RTC/ (VV, VH, dB), S2L1C/ (13 bands B01..B08, B8A, B09..B12),
//     S2L2A/ (12 bands, no B10), LULC/ (class map); the same file name is the same place.
//   - CSV manifest (csv): a .csv file with columns s1, s2, label (a header row naming them in any
//     order is optional; without one the columns are s1, s2[, label]). Relative paths are relative
//     to the CSV's folder; an empty cell means "none". Band names come from LayoutOptions or from
//     comment lines "# s1_bands: VV VH" and "# s2_bands: B01 B02 ..." (options win). A label
//     ending in .tif/.tiff is a class map; any other label is a class name.
//   (b) EuroSAT-MS (eurosat-ms): class folders of 13-band tifs, bands in EuroSAT's order B01..B12
//     then B8A, optionally under split folders (train/, test/, ...); classes are the folder names,
//     sorted.
//   (c) Sen1Floods11 (sen1floods11): <chip>_S1Hand.tif (VV, VH), <chip>_S2Hand.tif (13 L1C bands
//     B01..B08, B8A, B09..B12, as the file's band descriptions say), <chip>_LabelHand.tif (int16:
//     1 water, 0 not water, -1 ignore, marked invalid), in one folder, in its S1Hand/ S2Hand/
//     LabelHand/ folders, or in those under HandLabeled/.
//   (d) DFC2020 (dfc2020): SEN12MS-like ROIs*/s1_*/, s2_*/ with dfc_*/*_dfc_*.tif label maps.
//   (e) single-modality folder (folder): the .tif files of one folder, with band names and
//     modality (s1 or s2) from LayoutOptions.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "data/gdal/raster_reader.h"
#include "data/sample.h"

namespace rsd::data {

enum class Layout { sen12ms, ssl4eo_s12, bigearthnet_mm, terramesh, csv_manifest, eurosat_ms, sen1floods11,
                    dfc2020, single_folder };

// "sen12ms", "ssl4eo-s12", "bigearthnet-mm", "terramesh", "csv", "eurosat-ms", "sen1floods11",
// "dfc2020", "folder".
std::string layout_name(Layout layout);
// The layout of a name above; an rsd::Error listing the known names otherwise.
Layout parse_layout(const std::string& name);

// Which S2 product to take where a layout holds both (TerraMesh, SSL4EO-S12). automatic: L1C
// when present, else L2A (the choice is stated in Dataset::description).
enum class S2Product { automatic, l1c, l2a };

struct LayoutOptions {
  S2Product s2_product = S2Product::automatic;
  std::vector<std::string> s1_bands, s2_bands;  // CSV manifests and single-modality folders
  std::string modality = "s2";                  // single-modality folders: "s1" or "s2"
  // S1 and S2 of a sample may differ in origin by this fraction of a pixel (co-registered
  // datasets share their grid exactly; the tolerance absorbs rounding in stored geotransforms).
  double footprint_tolerance_px = 0.01;
};

enum class LabelKind { none, class_name, multi_label, map };

struct LabelRef {
  LabelKind kind = LabelKind::none;
  std::vector<std::string> names;   // class_name: one name; multi_label: every label
  int32_t class_index = -1;         // class_name: index into Dataset::classes
  RasterFile map;                   // kind == map: the class map file and its one band
  std::optional<float> ignore;      // map values to mark invalid (Sen1Floods11: -1)
};

// One sample as discovered: its files and bands, not yet read.
struct SampleRef {
  std::string id;                   // unique within the dataset, e.g. "train/Forest/Forest_12"
  Layout layout = Layout::single_folder;
  std::string split;                // "train", "test", ... where the layout has splits
  std::vector<RasterFile> s1, s2;   // empty: the sample has no such sensor
  LabelRef label;
  double footprint_tolerance_px = 0.01;
  // Set when discovery already knows the sample is unusable (a partner patch missing, metadata
  // unreadable): loading it fails with this text, so --skip-bad can skip it like any bad file.
  std::string problem;
};

struct Dataset {
  Layout layout = Layout::single_folder;
  std::string root;
  std::string description;          // what was found: "TerraMesh-style: 5 places, S1RTC + S2L1C ..."
  std::vector<std::string> classes; // single-label layouts: the sorted class names
  std::vector<SampleRef> samples;   // in a fixed order (sorted names)
};

struct Detection {
  Layout layout = Layout::single_folder;
  std::string reason;               // "found S1RTC/ and S2L1C/ (TerraMesh-style folders)"
};

// Guesses the layout of `path` from its folder structure (or a .csv file). An rsd::Error naming the
// path and listing what was looked for when nothing matches.
Detection detect_layout(const std::string& path);

// Lists the samples of `path` in the given layout, or the detected one.
Dataset discover(const std::string& path, Layout layout, const LayoutOptions& options = {});
Dataset discover(const std::string& path, const LayoutOptions& options = {});

// Reads a sample's files. Errors (rsd::Error naming the file(s)): a missing, non-TIFF, truncated
// or damaged file; a band count that differs from the layout's; S1 and S2 (or a label map) of
// different size or footprint, naming both files; an all-nodata S1 or S2 raster.
Sample load_sample(const SampleRef& ref);

// load_sample that returns nullopt and the error text instead of throwing (for --skip-bad).
std::optional<Sample> try_load_sample(const SampleRef& ref, std::string* error);

}  // namespace rsd::data
