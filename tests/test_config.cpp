// The pretraining config (models/pretrain/config.h): the shipped configs/ parse and point at data
// that exists; defaults and method-dependent defaults; --set overrides; every error names the
// origin, the key and the problem; to_toml round-trips; to_json_text is JSON.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/error.h"
#include "models/pretrain/config.h"
#include "models/pretrain/config_schema.h"

namespace fs = std::filesystem;
using namespace rsd::pretrain;

namespace {

fs::path repo_root() { return fs::path(__FILE__).parent_path().parent_path(); }

// A minimal valid config with extra TOML appended.
std::string with_path(const std::string& extra = "") { return "[data]\npath = \"somewhere\"\n" + extra; }

// The message of the rsd::Error that parsing throws ("" when it parses).
std::string parse_error(const std::string& text, const std::vector<std::string>& overrides = {},
                        const std::string& origin = "configs/x.toml") {
  try {
    parse_pretrain_config(text, origin, overrides);
  } catch (const rsd::Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

#define CHECK_CONTAINS(haystack, needle)                          \
  do {                                                            \
    const std::string text_ = (haystack);                         \
    INFO("message: ", text_);                                     \
    CHECK(contains(text_, needle));                               \
  } while (0)

}  // namespace

TEST_SUITE("config") {

TEST_CASE("every shipped config parses and its data path exists") {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(repo_root() / "configs")) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 4);
  for (const fs::path& file : files) {
    CAPTURE(file.string());
    PretrainConfig c = load_pretrain_config(file.string());
    CHECK(c.source == file.string());
    CHECK(c.data.path == "data/samples/terramind-s1s2");
    // Paths in configs are relative to the working directory; the configs expect the repository root.
    c.data.path = (repo_root() / c.data.path).string();
    CHECK_NOTHROW(check_pretrain_paths(c));
  }
}

TEST_CASE("the shipped configs hold the papers' settings") {
  const auto load = [](const char* name) { return load_pretrain_config((repo_root() / "configs" / name).string()); };
  const PretrainConfig byol = load("byol.toml");
  CHECK(byol.method == PretrainMethod::byol);
  CHECK(byol.model.arch == "resnet50");
  CHECK(byol.model.projector_hidden == 4096);
  CHECK(byol.model.projector_out == 256);
  CHECK(byol.model.predictor_hidden == 4096);
  CHECK(byol.byol.view_mode == "single-channel");
  CHECK(byol.byol.modality == "ms+sar");
  CHECK(byol.byol.tau_base == 0.99);
  CHECK(byol.train.optimizer == "lars");
  CHECK(byol.train.lr == 0.2);
  CHECK(byol.train.lr_scaling == "linear");
  CHECK(byol.train.weight_decay == 1.5e-6);
  CHECK(byol.train.batch_size == 256);

  for (const char* name : {"dual-contrastive.toml", "simclr.toml"}) {
    CAPTURE(name);
    const PretrainConfig c = load(name);
    CHECK(c.model.arch == "resnet50");
    CHECK(c.model.projector_hidden == 2048);
    CHECK(c.model.projector_out == 128);
    CHECK(c.contrastive.temperature == 0.1);
    CHECK(c.train.optimizer == "lars");
  }
  CHECK(load("dual-contrastive.toml").method == PretrainMethod::dual_contrastive);
  CHECK(load("simclr.toml").method == PretrainMethod::simclr);

  const PretrainConfig demo = load("demo.toml");
  CHECK(demo.method == PretrainMethod::byol);
  CHECK(demo.model.arch == "resnet18");
  CHECK(demo.model.width == 16);
  CHECK(demo.model.stem == "small-patch");
  CHECK(demo.data.patch_size == 32);
  CHECK(demo.train.batch_size == 32);
  CHECK(demo.model.projector_hidden == 256);
  CHECK(demo.model.projector_out == 64);
  CHECK(demo.model.predictor_hidden == 256);
  CHECK(demo.train.optimizer == "adamw");
  CHECK(demo.train.lr == 1e-3);
  CHECK(demo.train.lr_scaling == "none");
  CHECK(demo.train.steps == 60);
  CHECK(demo.log.every == 5);
  CHECK(demo.checkpoint.every == 30);
}

TEST_CASE("defaults: the struct's, and those that depend on the method") {
  const PretrainConfig c = parse_pretrain_config(with_path(), "<string>");
  const PretrainConfig d;
  CHECK(c.source == "<string>");
  CHECK(c.method == PretrainMethod::byol);
  CHECK(c.seed == d.seed);
  CHECK(c.device == "auto");
  CHECK(c.data.path == "somewhere");
  CHECK(c.data.layout == "auto");
  CHECK(c.data.patch_size == 64);
  CHECK(c.data.statistics.empty());
  CHECK(c.model.arch == "resnet50");
  CHECK(c.model.zero_init_residual);
  CHECK(c.train.batch_size == 256);
  CHECK(c.train.steps == 0);
  CHECK(c.train.epochs == 100);
  CHECK(c.train.warmup_fraction == 0.05);
  CHECK(c.train.adam_eps == 1e-8);
  CHECK(c.train.precision == "auto");
  CHECK(c.log.out_dir == "runs/pretrain");
  CHECK(c.checkpoint.keep_last == 3);
  // byol's method defaults.
  CHECK(c.model.projector_hidden == 4096);
  CHECK(c.model.projector_out == 256);
  CHECK(c.train.lr == 0.2);
  CHECK(c.train.weight_decay == 1.5e-6);

  for (const char* method : {"simclr", "dual-contrastive"}) {
    CAPTURE(method);
    const PretrainConfig m = parse_pretrain_config(std::string("method = \"") + method + "\"\n" + with_path(), "<s>");
    CHECK(m.model.projector_hidden == 2048);
    CHECK(m.model.projector_out == 128);
    CHECK(m.train.lr == 0.3);
    CHECK(m.train.weight_decay == 1e-6);
  }
  CHECK(parse_pretrain_config("method = \"dual-contrastive\"\n" + with_path(), "<s>").method ==
        PretrainMethod::dual_contrastive);

  // A method-dependent key given in the file keeps its value.
  const PretrainConfig given =
      parse_pretrain_config("method = \"simclr\"\n" + with_path("[model]\nprojector_hidden = 4096\n"), "<s>");
  CHECK(given.model.projector_hidden == 4096);
  CHECK(given.model.projector_out == 128);
}

TEST_CASE("overrides: typed values, bare strings, order, and a method switch") {
  const std::string file = with_path("[train]\nlr = 0.5\nbatch_size = 128\n");
  const PretrainConfig c = parse_pretrain_config(
      file, "<s>",
      {"train.lr=0.1", "train.batch_size = 64", "data.path=/x/y", "log.plot=false", "model.arch=resnet18",
       "data.statistics=", "seed=7", "data.layout=\"terramesh\"", "device=cuda:1"});
  CHECK(c.train.lr == 0.1);
  CHECK(c.train.batch_size == 64);
  CHECK(c.data.path == "/x/y");
  CHECK_FALSE(c.log.plot);
  CHECK(c.model.arch == "resnet18");
  CHECK(c.data.statistics.empty());
  CHECK(c.seed == 7);
  CHECK(c.data.layout == "terramesh");
  CHECK(c.device == "cuda:1");

  // An integer is a number; for a string key any text that is not a TOML string is the string.
  CHECK(parse_pretrain_config(file, "<s>", {"train.lr=1"}).train.lr == 1.0);
  CHECK(parse_pretrain_config(file, "<s>", {"data.path=2024"}).data.path == "2024");
  CHECK(parse_pretrain_config(file, "<s>", {"data.path=a b=c"}).data.path == "a b=c");
  CHECK(parse_pretrain_config(file, "<s>", {"data.path='/with spaces/x'"}).data.path == "/with spaces/x");
  // The last override of a key wins.
  CHECK(parse_pretrain_config(file, "<s>", {"train.lr=0.1", "train.lr=0.7"}).train.lr == 0.7);

  // Switching the method switches the defaults of keys not given...
  const PretrainConfig simclr = parse_pretrain_config(file, "<s>", {"method=simclr"});
  CHECK(simclr.method == PretrainMethod::simclr);
  CHECK(simclr.model.projector_hidden == 2048);
  CHECK(simclr.model.projector_out == 128);
  CHECK(simclr.train.weight_decay == 1e-6);
  // ...but not of keys the file or an override gives.
  CHECK(simclr.train.lr == 0.5);
  CHECK(parse_pretrain_config(file, "<s>", {"method=simclr", "model.projector_out=32"}).model.projector_out == 32);
  // data.path may come from an override alone.
  CHECK(parse_pretrain_config("", "<s>", {"data.path=/d"}).data.path == "/d");
}

TEST_CASE("errors: TOML syntax names the file, line and column") {
  const std::string msg = parse_error("method = \"byol\"\n[data]\npath = = 3\n");
  CHECK_CONTAINS(msg, "configs/x.toml:3:");
  CHECK_CONTAINS(msg, "TOML syntax error");
  CHECK_CONTAINS(parse_error("[train\n"), "configs/x.toml:1:");
}

TEST_CASE("non-ASCII text: read in strings and comments, a syntax error elsewhere (never given to toml++ 3.3)") {
  // In strings and comments, read as written (UTF-8).
  const PretrainConfig c = parse_pretrain_config(
      "# données, 日本\n[data]\npath = \"/data/España\" # é\nlayout = 'auto'\n[log]\nout_dir = \"\"\"runs/über\"\"\"\n",
      "<s>");
  CHECK(c.data.path == "/data/España");
  CHECK(c.log.out_dir == "runs/über");
  CHECK(parse_pretrain_config(with_path("[log]\nout_dir = '''é'''\n"), "<s>").log.out_dir == "é");
  // Elsewhere, an error naming the line and column instead of toml++'s undefined behaviour (a fuzz
  // finding: docs/fuzzing.md).
  CHECK_CONTAINS(parse_error(with_path("[train]\nlr = Ϥ-3\n")),
                 "configs/x.toml:4:6: TOML syntax error: a non-ASCII character outside a string or comment");
  CHECK_CONTAINS(parse_error(with_path("[train]\nbatch_sizé = 3\n")), "configs/x.toml:4:10: TOML syntax error");
  CHECK_CONTAINS(parse_error(with_path("[train]\nlr = 6'é'\n")), "configs/x.toml:4:8: TOML syntax error");
  CHECK_CONTAINS(parse_error(with_path("[log]\nout_dir = \"\"\"a\\é\"\"\"\n")),
                 "configs/x.toml:4:16: TOML syntax error: a non-ASCII character right after a backslash");
  CHECK_CONTAINS(parse_error(with_path("[log]\nout_dir = \"\"\"a\\\n  é\"\"\"\n")), "configs/x.toml:5:3: TOML syntax");
  // An override that is not TOML is a string, whatever its characters.
  CHECK(parse_pretrain_config("", "<s>", {"data.path=/data/é"}).data.path == "/data/é");
  // As long as it is UTF-8: to_toml and the JSON of checkpoint sidecars hold it.
  CHECK_CONTAINS(parse_error(with_path(), {"log.out_dir=runs/\xff"}), "the value is not valid UTF-8");
  CHECK_CONTAINS(parse_error(with_path(), {"log.out_dir=\xed\xa0\x80"}), "the value is not valid UTF-8");  // a surrogate
}

TEST_CASE("errors: unknown keys and sections list the valid ones") {
  const std::string key = parse_error(with_path("[train]\nbach_size = 3\n"));
  CHECK_CONTAINS(key, "configs/x.toml:4: unknown key 'train.bach_size'; valid keys in [train]: batch_size, steps, ");
  CHECK_CONTAINS(key, "did you mean 'batch_size'?");

  const std::string section = parse_error(with_path("[trian]\nlr = 3\n"));
  CHECK_CONTAINS(section, "unknown section [trian]; valid sections: [data], [model], [byol], [contrastive], [train], "
                          "[log], [checkpoint], [distributed]");
  CHECK_CONTAINS(section, "did you mean 'train'?");

  const std::string top = parse_error("seeds = 1\n" + with_path());
  CHECK_CONTAINS(top, "configs/x.toml:1: unknown key 'seeds'; valid top-level keys: method, seed, device");
  CHECK_CONTAINS(top, "did you mean 'seed'?");

  CHECK_CONTAINS(parse_error(with_path("[train.deep]\nx = 1\n")), "unknown key 'train.deep'");
  CHECK_CONTAINS(parse_error("train = 3\n" + with_path()), "'train' must be a section ([train]), got integer 3");
}

TEST_CASE("errors: wrong types name the key, the expected type and what was given") {
  CHECK_CONTAINS(parse_error(with_path("[train]\nlr = \"fast\"\n")),
                 "configs/x.toml:4: 'train.lr' must be a number, got string \"fast\"");
  CHECK_CONTAINS(parse_error(with_path("[train]\nbatch_size = 256.5\n")),
                 "'train.batch_size' must be an integer, got float 256.5");
  CHECK_CONTAINS(parse_error(with_path("[log]\nplot = 1\n")),
                 "'log.plot' must be a boolean (true or false), got integer 1");
  CHECK_CONTAINS(parse_error(with_path("[model]\narch = 50\n")), "'model.arch' must be a string, got integer 50");
  CHECK_CONTAINS(parse_error(with_path("[train]\nlr = [1, 2]\n")), "'train.lr' must be a number, got an array");
  CHECK(parse_error(with_path("[train]\nlr = 1\n")).empty());  // an integer where a number is expected
}

TEST_CASE("errors: values out of range or not allowed name the allowed ones") {
  const auto error_of = [](const std::string& section_and_key) { return parse_error(with_path(section_and_key)); };
  CHECK_CONTAINS(error_of("[train]\nbatch_size = 1\n"), "'train.batch_size' must be >= 2, got 1");
  CHECK_CONTAINS(error_of("[model]\nwidth = 0\n"), "'model.width' must be >= 1, got 0");
  CHECK_CONTAINS(error_of("[model]\nwidth = 3000000000\n"),
                 "'model.width' must be in [-2147483648, 2147483647] (a 32-bit integer), got 3000000000");
  CHECK_CONTAINS(error_of("[model]\narch = \"resnet101\"\n"),
                 "'model.arch' must be one of resnet18, resnet34, resnet50; got \"resnet101\"");
  CHECK_CONTAINS(error_of("[contrastive]\ntemperature = 0\n"), "'contrastive.temperature' must be > 0, got 0.0");
  CHECK_CONTAINS(error_of("[byol]\ntau_base = 1.5\n"), "'byol.tau_base' must be in [0, 1], got 1.5");
  CHECK_CONTAINS(error_of("[train]\nlr = -0.1\n"), "'train.lr' must be >= 0, got -0.1");
  CHECK_CONTAINS(error_of("[train]\nlr = inf\n"), "'train.lr' must be a finite number, got inf");
  CHECK_CONTAINS(error_of("[train]\ngrad_accum = 0\n"), "'train.grad_accum' must be >= 1");
  CHECK_CONTAINS(error_of("[train]\nwarmup_fraction = 1.0\n"), "'train.warmup_fraction' must be in [0, 1), got 1.0");
  CHECK_CONTAINS(error_of("[train]\noptimizer = \"adam\"\n"), "must be one of lars, sgd, adamw; got \"adam\"");
  CHECK_CONTAINS(error_of("[checkpoint]\nkeep_last = 0\n"), "'checkpoint.keep_last' must be >= 1");
  CHECK_CONTAINS(error_of("[checkpoint]\nevery = 0\n"), "'checkpoint.every' must be >= 1");
  CHECK_CONTAINS(error_of("[log]\nevery = 0\n"), "'log.every' must be >= 1");
  CHECK_CONTAINS(parse_error("[data]\npath = \"p\"\npatch_size = 4\n"), "'data.patch_size' must be >= 8, got 4");
  CHECK_CONTAINS(parse_error("[data]\npath = \"p\"\nlayout = \"bogus\"\n"),
                 "'data.layout' must be one of auto, sen12ms, ssl4eo-s12, bigearthnet-mm, terramesh, csv, eurosat-ms, "
                 "sen1floods11, dfc2020, folder; got \"bogus\"");
  CHECK_CONTAINS(parse_error("seed = -1\n" + with_path()), "'seed' must be >= 0, got -1");
  CHECK_CONTAINS(parse_error("method = \"moco\"\n" + with_path()),
                 "'method' must be one of byol, dual-contrastive, simclr; got \"moco\"");
  CHECK_CONTAINS(parse_error("device = \"gpu\"\n" + with_path()), "'device' must be one of auto, cpu, cuda, cuda:N");
  CHECK_CONTAINS(parse_error("device = \"cuda:x\"\n" + with_path()), "got \"cuda:x\"");
  CHECK(parse_error("device = \"cuda:12\"\n" + with_path()).empty());
  CHECK_CONTAINS(parse_error(with_path("[log]\nout_dir = \"\"\n")), "'log.out_dir' must not be empty");
}

TEST_CASE("errors: data.path is required and not empty") {
  CHECK_CONTAINS(parse_error("[train]\nlr = 0.1\n"),
                 "configs/x.toml: data.path is required: the dataset folder or shard dataset");
  CHECK_CONTAINS(parse_error("[data]\npath = \"\"\n"), "'data.path' must not be empty");
}

TEST_CASE("errors: a bad override names the override") {
  CHECK_CONTAINS(parse_error(with_path(), {"train.lr"}), "configs/x.toml: override 'train.lr': expected key=value");
  CHECK_CONTAINS(parse_error(with_path(), {"=3"}), "override '=3': the key before '=' is empty");
  const std::string unknown = parse_error(with_path(), {"train.bach_size=3"});
  CHECK_CONTAINS(unknown, "override 'train.bach_size=3': unknown key 'train.bach_size'; valid keys in [train]:");
  CHECK_CONTAINS(unknown, "did you mean 'batch_size'?");
  CHECK_CONTAINS(parse_error(with_path(), {"bogus.key=1"}), "override 'bogus.key=1': unknown section [bogus]");
  CHECK_CONTAINS(parse_error(with_path(), {"train.lr=fast"}),
                 "override 'train.lr=fast': 'train.lr' must be a number, got string \"fast\"");
  CHECK_CONTAINS(parse_error(with_path(), {"train.batch_size=1"}),
                 "override 'train.batch_size=1': 'train.batch_size' must be >= 2, got 1");
}

TEST_CASE("check_pretrain_paths and load_pretrain_config name the missing path") {
  PretrainConfig c = parse_pretrain_config(with_path(), "cfg.toml");
  c.data.path = "/nonexistent/rsd-dataset";
  std::string msg;
  try {
    check_pretrain_paths(c);
  } catch (const rsd::Error& e) {
    msg = e.what();
  }
  CHECK_CONTAINS(msg, "cfg.toml: data.path '/nonexistent/rsd-dataset' does not exist; expected a dataset folder");

  c.data.path = (repo_root() / "data" / "samples" / "terramind-s1s2").string();
  CHECK_NOTHROW(check_pretrain_paths(c));
  c.data.statistics = "/nonexistent/stats.json";
  CHECK_THROWS_WITH_AS(check_pretrain_paths(c),
                       doctest::Contains("data.statistics '/nonexistent/stats.json' does not exist; expected a "
                                         "per-band statistics JSON file"),
                       rsd::Error);
  c.data.statistics = c.data.path;  // a folder
  CHECK_THROWS_WITH_AS(check_pretrain_paths(c), doctest::Contains("is not a file"), rsd::Error);

  CHECK_THROWS_WITH_AS(load_pretrain_config("/nonexistent/x.toml"),
                       doctest::Contains("cannot read config /nonexistent/x.toml: no such file"), rsd::Error);
}

TEST_CASE("to_toml writes every key and round-trips") {
  std::vector<PretrainConfig> configs;
  configs.push_back(parse_pretrain_config(with_path(), "<s>"));
  for (const char* name : {"byol.toml", "dual-contrastive.toml", "simclr.toml", "demo.toml"}) {
    configs.push_back(load_pretrain_config((repo_root() / "configs" / name).string()));
  }
  // Awkward strings and doubles; a method default overridden by an explicit value.
  PretrainConfig odd = parse_pretrain_config(with_path(), "<s>", {"method=simclr", "model.projector_hidden=4096"});
  odd.data.path = "a \"quoted\" path\\with\tcontrol\nchars and \xc3\xa9";
  odd.train.lr = 0.1 + 0.2;
  odd.train.weight_decay = 1e-300;
  odd.train.final_lr = 123456789.0;
  odd.seed = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  configs.push_back(odd);

  for (const PretrainConfig& c : configs) {
    CAPTURE(c.source);
    const std::string toml = to_toml(c);
    const PretrainConfig back = parse_pretrain_config(toml, c.source);
    CHECK(to_toml(back) == toml);
    CHECK(to_json_text(back) == to_json_text(c));
    for (const auto& spec : config_schema::schema()) {
      CHECK_CONTAINS(toml, "\n" + spec.name() + " = ");
    }
  }
  const PretrainConfig back = parse_pretrain_config(to_toml(odd), "<s>");
  CHECK(back.data.path == odd.data.path);
  CHECK(back.train.lr == odd.train.lr);
  CHECK(back.train.weight_decay == odd.train.weight_decay);
  CHECK(back.model.projector_hidden == 4096);
  CHECK(back.seed == odd.seed);
}

TEST_CASE("to_json_text is JSON with every key") {
  PretrainConfig c = load_pretrain_config((repo_root() / "configs" / "byol.toml").string());
  c.data.path = "quote \" backslash \\ newline \n";
  const nlohmann::json j = nlohmann::json::parse(to_json_text(c));
  CHECK(j["method"] == "byol");
  CHECK(j["seed"] == 0);
  CHECK(j["data"]["path"] == c.data.path);
  CHECK(j["train"]["lr"] == 0.2);
  CHECK(j["train"]["batch_size"] == 256);
  CHECK(j["log"]["plot"] == true);
  CHECK(j["source"] == c.source);
  size_t keys = 0;
  for (const auto& spec : config_schema::schema()) {
    CAPTURE(spec.key);
    const nlohmann::json& holder = spec.section().empty() ? j : j.at(spec.section());
    CHECK(holder.contains(spec.name()));
    ++keys;
  }
  CHECK(keys == config_schema::schema().size());
}

TEST_CASE("the help text lists every key with its type, default and meaning") {
  const std::string help = pretrain_config_help();
  for (const auto& spec : config_schema::schema()) {
    CAPTURE(spec.key);
    CHECK_CONTAINS(help, "  " + (spec.section().empty() ? spec.key : spec.name()) + "  (");
    CHECK_CONTAINS(help, spec.doc);
  }
  CHECK_CONTAINS(help, "[train]");
  CHECK_CONTAINS(help, "batch_size  (integer >= 2; default 256)");
  CHECK_CONTAINS(help, "projector_hidden  (integer >= 1; default by method: byol 4096, dual-contrastive 2048, "
                       "simclr 2048)");
  CHECK_CONTAINS(help, "path  (string; required)");
  CHECK_CONTAINS(help, "optimizer  (string: lars | sgd | adamw; default \"lars\")");
}

}  // TEST_SUITE
