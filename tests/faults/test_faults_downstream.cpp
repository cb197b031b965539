// Faults of the downstream commands (`rsd embed`, `rsd export-weights`, `rsd eval`) through their
// command line: outputs that cannot be written (checked before the model is loaded), outputs that
// would overwrite the input or write into a dataset, all-nodata chips, exported encoders given as
// checkpoints, duplicate band names, a full disk (refused up front) and a disk that fills during
// the write, checkpoints holding Inf.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/npy.h"
#include "engine/safetensors.h"
#include "tests/faults/fault_harness.h"
#include "tests/support/gdal_test_util.h"
#include "tests/support/test_paths.h"

using namespace rsd;
using namespace rsd::test;
namespace fs = std::filesystem;

namespace {

// The checkpoint of a 2-step dual-contrastive run (ResNet-18, width 8: D = 64; its S2 encoder reads
// the 13 L1C bands), made once for the suite's cases.
const std::string& tiny_checkpoint() {
  static TempDir dir("rsd_faults_downstream");
  static const std::string path = [] {
    const fs::path run = dir / "run";
    const std::string config = write_tiny_config(dir / "c.toml", "dual-contrastive", run, 2);
    const CommandResult r = run_rsd({"pretrain", "--config", config});
    REQUIRE_MESSAGE(r.exit_code == 0, r.describe());
    std::string newest;
    for (const auto& e : fs::recursive_directory_iterator(run))
      if (e.path().extension() == ".safetensors" && e.path().string() > newest) newest = e.path().string();
    REQUIRE_MESSAGE(!newest.empty(), "no checkpoint under ", run.string());
    return newest;
  }();
  return path;
}

fs::path eurosat() { return samples_dir() / "eurosat-ms-subset"; }

#if RSD_HAVE_GDAL
std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> fields(1);
  for (char ch : line) {
    if (ch == sep)
      fields.emplace_back();
    else
      fields.back() += ch;
  }
  return fields;
}

// GDAL's own messages, printed raw by its default handler: "ERROR 1: ...", "Warning 1: ...".
bool has_raw_gdal_message(const std::string& err) {
  return err.find("ERROR 1:") != std::string::npos || err.find("ERROR 3:") != std::string::npos ||
         err.find("ERROR 4:") != std::string::npos;
}

fs::path flood_chip() { return samples_dir() / "sen1floods11" / "Spain_7370579_S2Hand.tif"; }

// A small 4-band GeoTIFF (B02, B03, B04, B08 with --raster-bands), nodata 0.
fs::path small_tif(const fs::path& path, int width, int height,
                   const std::function<double(int, int, int)>& value = nullptr) {
  TifSpec spec;
  spec.width = width;
  spec.height = height;
  spec.bands = 4;
  spec.nodata = 0.0;
  spec.value = value ? value : [](int b, int y, int x) { return 700.0 + 200.0 * b + 9.0 * ((x + 2 * y) % 7) + y; };
  write_tif(path, spec);
  return path;
}
#endif

}  // namespace

TEST_SUITE("faults") {
#if RSD_HAVE_GDAL
  TEST_CASE("embed, export-weights, eval: an --out under a regular file or in a read-only place is refused before "
            "the model is loaded" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint();
    const fs::path file = dir / "file.txt";
    std::ofstream(file) << "a regular file\n";
    const fs::path under = file / "sub";
    const std::string f = file.string();
    const auto refused = [&](const std::vector<std::string>& args, const std::vector<std::string>& needles) {
      const CommandResult r = run_rsd(args);
      CHECK_MESSAGE(clean_failure(r, needles) == "", r.describe());
    };
    refused({"embed", "--checkpoint", ckpt, "--input", eurosat().string(), "--out", under.string()},
            {f, "regular file", "not a folder"});
    refused({"embed", "--checkpoint", ckpt, "--input", flood_chip().string(), "--dense", "--out",
             (under / "dense.tif").string()},
            {f, "regular file"});
    refused({"export-weights", ckpt, (under / "enc.safetensors").string()}, {f, "regular file"});
    refused({"eval", "knn", "--checkpoint", ckpt, "--data", eurosat().string(), "--out", under.string(), "--quiet"},
            {f, "regular file"});
    refused({"eval", "seg", "--checkpoint", ckpt, "--data", (samples_dir() / "sen1floods11").string(), "--out",
             under.string(), "--quiet"},
            {f, "regular file"});
    // The output is checked before the model: with a checkpoint that does not exist, the --out is what is reported.
    refused({"embed", "--checkpoint", (dir / "absent.safetensors").string(), "--input", eurosat().string(), "--out",
             under.string()},
            {f, "regular file"});
    // The output file itself is a folder.
    fs::create_directories(dir / "a_folder.tif");
    refused({"embed", "--checkpoint", ckpt, "--input", flood_chip().string(), "--dense", "--out",
             (dir / "a_folder.tif").string()},
            {(dir / "a_folder.tif").string(), "is a folder"});
    // /proc takes no new files, not even root's.
    refused({"embed", "--checkpoint", ckpt, "--input", eurosat().string(), "--out", "/proc/rsd-fault-test/emb"},
            {"/proc", "cannot write"});
    refused({"export-weights", ckpt, "/proc/rsd-fault-test.safetensors"}, {"/proc", "cannot write"});
    CHECK(!fs::exists(under));

    // A read-only file system (a read-only bind mount in a private mount namespace).
    const fs::path ro = dir / "ro";
    fs::create_directories(ro);
    const SmallDiskRun run =
        run_rsd_read_only(ro, {"embed", "--checkpoint", ckpt, "--input", eurosat().string(), "--out", (ro / "emb").string()});
    if (run.skipped) {
      MESSAGE("read-only case skipped: ", run.reason);
    } else {
      CHECK_MESSAGE(clean_failure(run.result, {ro.string(), "read-only"}) == "", run.result.describe());
    }
  }

  TEST_CASE("embed refuses an --out that is its input (any spelling, a symlink, a hard link, the PCA sidecar) or "
            "inside its dataset folder" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint();
    const fs::path in = small_tif(dir / "in.tif", 40, 36);
    const std::string original = read_text(in);
    fs::create_directories(dir / "sub");
    fs::create_symlink(in, dir / "link.tif");
    fs::create_hard_link(in, dir / "hard.tif");
    const auto dense = [&](const fs::path& input, const fs::path& out, std::vector<std::string> extra = {}) {
      std::vector<std::string> args{"embed",   "--checkpoint",  ckpt, "--input", input.string(), "--raster-bands",
                                    "B02,B03,B04,B08", "--dense", "--out", out.string()};
      args.insert(args.end(), extra.begin(), extra.end());
      return run_rsd(args);
    };
    for (const auto& [input, out] : std::vector<std::pair<fs::path, fs::path>>{{in, in},
                                                                               {in, dir / "." / "in.tif"},
                                                                               {in, dir / "sub" / ".." / "in.tif"},
                                                                               {in, dir / "link.tif"},
                                                                               {dir / "link.tif", in},
                                                                               {in, dir / "hard.tif"}}) {
      CAPTURE(input);
      CAPTURE(out);
      const CommandResult r = dense(input, out);
      CHECK_MESSAGE(clean_failure(r, {out.string(), "overwrite"}) == "", r.describe());
      CHECK(read_text(in) == original);
    }
    // The sidecar of an int8 PCA output (<out stem>.pca.npy) would be the input (a GeoTIFF named so).
    const fs::path odd = dir / "scene.pca.npy";
    fs::copy_file(in, odd);
    const CommandResult side = dense(odd, dir / "scene.tif", {"--format", "int8", "--dims", "16"});
    CHECK_MESSAGE(clean_failure(side, {odd.string(), "overwrite"}) == "", side.describe());
    CHECK(read_text(odd) == original);
    CHECK(!fs::exists(dir / "scene.tif"));

    // Chip embeddings into the dataset folder (or below it) would add files to the dataset.
    const fs::path dataset = dir / "eurosat";
    fs::copy(eurosat(), dataset, fs::copy_options::recursive);
    for (const fs::path& out : {dataset, dataset / "emb", dataset / "train" / "emb"}) {
      CAPTURE(out);
      const CommandResult r = run_rsd({"embed", "--checkpoint", ckpt, "--input", dataset.string(), "--out", out.string()});
      CHECK_MESSAGE(clean_failure(r, {out.string(), dataset.string(), "would add files"}) == "", r.describe());
      CHECK(!fs::exists(out / "embeddings.npy"));
    }
    // eval writes results into the dataset folder: refused too.
    const CommandResult ev = run_rsd(
        {"eval", "knn", "--checkpoint", ckpt, "--data", dataset.string(), "--out", (dataset / "probe").string(), "--quiet"});
    CHECK_MESSAGE(clean_failure(ev, {(dataset / "probe").string(), "inside"}) == "", ev.describe());
    // export-weights over its own checkpoint.
    const fs::path copy_dir = dir / "ckpt";
    fs::create_directories(copy_dir);
    const fs::path ck = copy_dir / fs::path(ckpt).filename();
    fs::copy_file(ckpt, ck);
    fs::copy_file(fs::path(ckpt).replace_extension(".json"), fs::path(ck).replace_extension(".json"));
    const std::string ck_bytes = read_text(ck);
    const CommandResult ex = run_rsd({"export-weights", ck.string(), ck.string()});
    CHECK_MESSAGE(clean_failure(ex, {ck.string(), "overwrite"}) == "", ex.describe());
    CHECK(read_text(ck) == ck_bytes);
  }

  TEST_CASE("embed: an all-nodata chip gets a NaN row, valid_fraction 0 in index.csv, and is counted in "
            "embeddings.json" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint();
    const fs::path empty = small_tif(dir / "empty.tif", 16, 16, [](int, int, int) { return 0.0; });
    const fs::path half =
        small_tif(dir / "half.tif", 16, 16, [](int b, int y, int x) { return y < 8 ? 0.0 : 600.0 + 100.0 * b + x; });
    const auto embed = [&](const fs::path& input, const fs::path& out) {
      return run_rsd({"embed", "--checkpoint", ckpt, "--input", input.string(), "--raster-bands", "B02,B03,B04,B08",
                      "--out", out.string()});
    };
    const CommandResult r = embed(empty, dir / "e");
    REQUIRE_MESSAGE(r.exit_code == 0, r.describe());
    CHECK(r.err.find("no valid") != std::string::npos);  // a warning says so
    const std::vector<std::string> index = lines_of(dir / "e" / "index.csv");
    REQUIRE(index.size() == 2);
    const std::vector<std::string> header = split(index[0], ',');
    const auto column = std::find(header.begin(), header.end(), "valid_fraction");
    REQUIRE_MESSAGE(column != header.end(), index[0]);
    const auto at = static_cast<size_t>(column - header.begin());
    CHECK(split(index[1], ',').at(at) == "0");
    const Tensor e = read_npy((dir / "e" / "embeddings.npy").string());
    for (double v : e.to_host_doubles()) CHECK(std::isnan(v));
    const nlohmann::json meta = nlohmann::json::parse(read_text(dir / "e" / "embeddings.json"));
    CHECK(meta.at("all_nodata_rows") == nlohmann::json::array({0}));

    // Half the pixels: an ordinary row, and the fraction says how much of the chip was data.
    const CommandResult h = embed(half, dir / "h");
    REQUIRE_MESSAGE(h.exit_code == 0, h.describe());
    CHECK(split(lines_of(dir / "h" / "index.csv").at(1), ',').at(at) == "0.5");
    for (double v : read_npy((dir / "h" / "embeddings.npy").string()).to_host_doubles()) CHECK(std::isfinite(v));
    CHECK(nlohmann::json::parse(read_text(dir / "h" / "embeddings.json")).at("all_nodata_rows").empty());
  }

  TEST_CASE("embed and eval accept an exported encoder (export-weights) and embed as its checkpoint does; another "
            "safetensors file is named for what it is" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint();
    const fs::path exported = dir / "encoder.safetensors";
    const CommandResult ex = run_rsd({"export-weights", ckpt, exported.string(), "--encoder", "s2"});
    REQUIRE_MESSAGE(ex.exit_code == 0, ex.describe());
    const fs::path input = samples_dir() / "terramind-s1s2";
    const CommandResult a = run_rsd({"embed", "--checkpoint", ckpt, "--input", input.string(), "--out", (dir / "a").string()});
    REQUIRE_MESSAGE(a.exit_code == 0, a.describe());
    const CommandResult b =
        run_rsd({"embed", "--checkpoint", exported.string(), "--input", input.string(), "--out", (dir / "b").string()});
    REQUIRE_MESSAGE(b.exit_code == 0, b.describe());
    CHECK(read_npy((dir / "a" / "embeddings.npy").string()).to_host_doubles() ==
          read_npy((dir / "b" / "embeddings.npy").string()).to_host_doubles());
    const CommandResult ev =
        run_rsd({"eval", "knn", "--checkpoint", exported.string(), "--data", eurosat().string(), "--quiet"});
    CHECK_MESSAGE(ev.exit_code == 0, ev.describe());
    // An encoder the file does not hold.
    const CommandResult s1 = run_rsd({"embed", "--checkpoint", exported.string(), "--encoder", "s1", "--input",
                                      input.string(), "--out", (dir / "c").string()});
    CHECK_MESSAGE(clean_failure(s1, {exported.string(), "s2"}) == "", s1.describe());

    // A safetensors file that is neither a checkpoint nor an export.
    const fs::path other = dir / "other.safetensors";
    write_safetensors(other.string(), {{"w", Tensor::zeros({2, 2}, DType::f32)}});
    const CommandResult o =
        run_rsd({"embed", "--checkpoint", other.string(), "--input", input.string(), "--out", (dir / "d").string()});
    CHECK_MESSAGE(clean_failure(o, {other.string(), "not an rsd", "export-weights"}) == "", o.describe());
  }

  TEST_CASE("embed refuses duplicate --raster-bands, naming the band" * doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint();
    const fs::path in = small_tif(dir / "in.tif", 16, 16);
    for (const bool dense : {false, true}) {
      CAPTURE(dense);
      std::vector<std::string> args{"embed",         "--checkpoint", ckpt, "--input", in.string(), "--raster-bands",
                                    "B02,B03,B02,B08", "--out",       (dir / (dense ? "d.tif" : "d")).string()};
      if (dense) args.push_back("--dense");
      const CommandResult r = run_rsd(args);
      CHECK_MESSAGE(clean_failure(r, {"--raster-bands", "B02", "twice"}) == "", r.describe());
    }
  }

  TEST_CASE("embed --dense on a disk too small for its output is refused before any tile, naming the need and the "
            "free space" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint();
    const fs::path disk = dir / "disk";
    // 512 x 512 px x 64 float32 bands: 64 MiB before compression, on a 2 MB disk.
    const SmallDiskRun run = run_rsd_on_small_disk(
        disk, 2 << 20,
        {"embed", "--checkpoint", ckpt, "--input", flood_chip().string(), "--dense", "--out", (disk / "dense.tif").string()});
    if (run.skipped) {
      MESSAGE("skipped: ", run.reason);
      return;
    }
    const CommandResult& r = run.result;
    CHECK_MESSAGE(clean_failure(r, {(disk / "dense.tif").string(), "needs about", "free"}) == "", r.describe());
    CHECK_MESSAGE(r.err.find("tiles") == std::string::npos, r.err);  // no progress: nothing was computed
    CHECK(!has_raw_gdal_message(r.err));
  }

  TEST_CASE("embed --dense when the disk fills during the write: one clear error, GDAL's messages captured, no "
            "temporary file left" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint();
    // 600 x 64 px x 64 float32 bands: about 13 MB with the overviews, on a 16 MB disk, which a
    // filler takes once the output's temporary file appears (after the up-front space check).
    const fs::path in = small_tif(dir / "tall.tif", 64, 600);
    const fs::path disk = dir / "disk";
    fs::create_directories(disk);
    const CommandResult probe = run_command({"unshare", "-rm", "true"}, {});
    const bool userns = probe.exited() && probe.exit_code == 0;
    if (!userns && ::geteuid() != 0) {
      MESSAGE("skipped: no mount namespace (not root, and unshare -rm failed)");
      return;
    }
    const std::string script =
        "mount -t tmpfs -o size=16m rsd-small-disk \"$0\" || { echo 'mount: failed' >&2; exit 99; }; "
        "( while ! ls \"$0\" | grep -q '\\.tmp'; do sleep 0.01; done; "
        "dd if=/dev/zero of=\"$0/filler\" bs=64k 2>/dev/null ) & "
        "\"$@\"; rc=$?; wait; echo LISTING; ls -A \"$0\"; exit $rc";
    std::vector<std::string> argv{"unshare", userns ? "-rm" : "-m", "sh", "-c", script, disk.string(), rsd_binary(),
                                  "embed", "--checkpoint", ckpt, "--input", in.string(), "--raster-bands",
                                  "B02,B03,B04,B08", "--dense", "--out", (disk / "dense.tif").string()};
    CommandOptions o;
    o.cwd = RSD_SOURCE_DIR;
    const CommandResult r = run_command(argv, o);
    if (r.exit_code == 99 && r.err.find("mount:") != std::string::npos) {
      MESSAGE("skipped: mounting a tmpfs failed: ", r.err);
      return;
    }
    CHECK_MESSAGE(clean_failure(r, {(disk / "dense.tif").string(), "writing rows", "No space left"}) == "",
                  r.describe());
    CHECK_MESSAGE(!has_raw_gdal_message(r.err), r.err);
    size_t errors = 0;
    for (size_t at = r.err.find("rsd: error:"); at != std::string::npos; at = r.err.find("rsd: error:", at + 1))
      ++errors;
    CHECK(errors == 1);
    const size_t listing = r.out.find("LISTING\n");
    REQUIRE(listing != std::string::npos);
    CHECK(r.out.substr(listing + 8) == "filler\n");  // no temporary file, no output
  }
#endif

  TEST_CASE("embed, eval and export-weights refuse a checkpoint holding Inf, naming the file, the tensor and the "
            "count" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint();
    const SafetensorsFile good = SafetensorsFile::open(ckpt);
    std::string poisoned_name;
    for (const std::string& name : good.names())
      if (name.rfind("s2.encoder.", 0) == 0 && name.find("running_var") != std::string::npos) {
        poisoned_name = name;
        break;
      }
    REQUIRE(!poisoned_name.empty());
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const std::string& name : good.names()) {
      Tensor t = good.read(name);
      if (name == poisoned_name) {
        std::vector<double> v = t.to_host_doubles();
        REQUIRE(v.size() >= 4);
        v[0] = INFINITY;
        v[3] = -INFINITY;
        t = Tensor::from_vector(v, t.shape(), t.dtype());
      }
      tensors.emplace_back(name, t);
    }
    const fs::path bad = dir / "bad" / fs::path(ckpt).filename();
    fs::create_directories(bad.parent_path());
    // Written as a run would have written it before checkpoints refused non-finite values: its
    // sidecar carries the checksums of the poisoned file (load_checkpoint verifies them first).
    const std::vector<std::pair<std::string, uint32_t>> crcs = write_safetensors(bad.string(), tensors, good.metadata());
    nlohmann::json sidecar = nlohmann::json::parse(read_text(fs::path(ckpt).replace_extension(".json")));
    for (const auto& [name, crc] : crcs) sidecar["tensor_crc32c"][name] = crc;
    std::ofstream(fs::path(bad).replace_extension(".json")) << sidecar.dump(2);
    const std::vector<std::string> needles{bad.string(), poisoned_name, "2 non-finite"};
    const CommandResult e = run_rsd({"embed", "--checkpoint", bad.string(), "--input",
                                     (samples_dir() / "terramind-s1s2").string(), "--out", (dir / "emb").string()});
    CHECK_MESSAGE(clean_failure(e, needles) == "", e.describe());
    CHECK(!fs::exists(dir / "emb" / "embeddings.npy"));
    const CommandResult x = run_rsd({"export-weights", bad.string(), (dir / "w.safetensors").string()});
    CHECK_MESSAGE(clean_failure(x, needles) == "", x.describe());
    CHECK(!fs::exists(dir / "w.safetensors"));
    const CommandResult v =
        run_rsd({"eval", "knn", "--checkpoint", bad.string(), "--data", eurosat().string(), "--quiet"});
    CHECK_MESSAGE(clean_failure(v, needles) == "", v.describe());
  }
}
