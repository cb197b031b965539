#include "engine/comm/bootstrap.h"

#include <charconv>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <vector>

#include "engine/error.h"

namespace rsd::comm {

namespace {

enum Field { kRank, kWorld, kLocalRank, kLocalWorld, kFieldCount };

const char* const kFieldNames[kFieldCount] = {"rank", "world size", "local rank", "local world size"};

// One launcher's variables. A source is present when one of its `presence` variables is set; only
// then are its other variables read (a stray LOCAL_RANK alone does not make a torchrun launch).
struct SourceSpec {
  const char* name;
  std::vector<const char*> presence;
  std::vector<const char*> vars[kFieldCount];  // per field, in order of preference
};

const std::vector<SourceSpec>& source_specs() {
  static const std::vector<SourceSpec> specs = {
      {"mpi",
       {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"},
       {{"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"},
        {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"},
        {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"},
        {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}}},
      {"slurm",
       {"SLURM_PROCID"},
       {{"SLURM_PROCID"}, {"SLURM_NTASKS", "SLURM_NPROCS"}, {"SLURM_LOCALID"}, {"SLURM_NTASKS_PER_NODE"}}},
      {"env",
       {"RANK", "WORLD_SIZE"},
       {{"RANK"}, {"WORLD_SIZE"}, {"LOCAL_RANK"}, {"LOCAL_WORLD_SIZE"}}},
  };
  return specs;
}

struct Setting {
  std::string var;
  long long value = 0;
};

// Launch variables are plain decimal integers; anything else (spaces, "2.0", "", overflow) is a
// broken launch script, reported rather than read as 0.
long long parse_int(const std::string& var, const std::string& text) {
  long long v = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, v);
  RSD_CHECK(!text.empty() && ec == std::errc() && ptr == end && v >= INT_MIN && v <= INT_MAX, "launch: ", var,
            "='", text, "' is not an integer: launchers set it to a decimal number; fix or unset it");
  return v;
}

// What one present source says, field by field (empty when it does not say).
struct SourceReading {
  const SourceSpec* spec = nullptr;
  std::vector<Setting> fields[kFieldCount];
};

SourceReading read_source(const SourceSpec& spec, const EnvLookup& env) {
  SourceReading r;
  r.spec = &spec;
  for (int f = 0; f < kFieldCount; ++f)
    for (const char* var : spec.vars[f])
      if (const auto text = env(var)) r.fields[f].push_back({var, parse_int(var, *text)});
  return r;
}

// The first setting of field f over the sources, checking that every other one agrees.
const Setting* agreed(const std::vector<SourceReading>& sources, Field f) {
  const Setting* first = nullptr;
  for (const SourceReading& s : sources)
    for (const Setting& setting : s.fields[f]) {
      if (!first) {
        first = &setting;
      } else if (setting.value != first->value) {
        fail("launch: ", first->var, "=", first->value, " but ", setting.var, "=", setting.value,
             ": the launch variables disagree on this process's ", kFieldNames[f],
             ". Unset the stale ones (e.g. RANK/WORLD_SIZE exported in the shell before mpirun), or launch "
             "with a single launcher");
      }
    }
  return first;
}

}  // namespace

std::string LaunchInfo::describe() const {
  return str_cat("rank ", rank, " of ", world_size, " (local ", local_rank, " of ", local_world_size, "), from ",
                 source);
}

LaunchInfo detect_launch(const EnvLookup& env) {
  std::vector<SourceReading> present;
  for (const SourceSpec& spec : source_specs()) {
    bool is_present = false;
    for (const char* var : spec.presence) is_present = is_present || env(var).has_value();
    if (is_present) present.push_back(read_source(spec, env));
  }

  // A torchrun-style launch needs RANK with WORLD_SIZE; one without the other is a half-set
  // environment, not a launch.
  for (const SourceReading& s : present) {
    if (s.fields[kRank].empty())
      fail("launch: ", s.fields[kWorld].front().var, "=", s.fields[kWorld].front().value, " is set but ",
           s.spec->vars[kRank].front(), " is not: set both (and LOCAL_RANK), or unset ", s.fields[kWorld].front().var);
  }

  // Slurm describes the allocation's tasks. When another launcher runs inside it (mpirun in an
  // sbatch script, srun starting torchrun), that launcher's processes are not Slurm's tasks and
  // the world sizes differ: then the inner launcher is the one that describes this process.
  for (size_t i = 0; i < present.size(); ++i) {
    if (std::string(present[i].spec->name) != "slurm" || present[i].fields[kWorld].empty()) continue;
    bool nested = false;
    for (size_t j = 0; j < present.size(); ++j)
      for (const Setting& w : present[j].fields[kWorld])
        nested = nested || (j != i && w.value != present[i].fields[kWorld].front().value);
    if (nested) {
      present.erase(present.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }

  LaunchInfo info;
  if (const auto addr = env("MASTER_ADDR")) info.master_addr = *addr;
  if (const auto port = env("MASTER_PORT")) {
    const long long p = parse_int("MASTER_PORT", *port);
    RSD_CHECK(p >= 1 && p <= 65535, "launch: MASTER_PORT=", p, " is not a TCP port (1 to 65535)");
    info.master_port = static_cast<int>(p);
  }
  if (present.empty()) return info;  // single: rank 0 of 1

  info.source = present.front().spec->name;
  for (const SourceReading& s : present) info.under_mpi = info.under_mpi || std::string(s.spec->name) == "mpi";

  const Setting* rank = agreed(present, kRank);
  const Setting* world = agreed(present, kWorld);
  const Setting* local_rank = agreed(present, kLocalRank);
  const Setting* local_world = agreed(present, kLocalWorld);
  RSD_CHECK(world, "launch: ", rank->var, "=", rank->value,
            " is set but no variable gives the world size (OMPI_COMM_WORLD_SIZE, PMI_SIZE, SLURM_NTASKS or "
            "WORLD_SIZE): set the one of your launcher");
  RSD_CHECK(world->value >= 1, "launch: ", world->var, "=", world->value, " is not a world size (at least 1)");
  RSD_CHECK(rank->value >= 0 && rank->value < world->value, "launch: ", rank->var, "=", rank->value,
            " is not a rank of ", world->var, "=", world->value, " (ranks count from 0 to the world size - 1)");
  RSD_CHECK(local_rank || !local_world, "launch: ", local_world ? local_world->var : "", "=",
            local_world ? local_world->value : 0,
            " is set but no variable gives the local rank (OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID or "
            "LOCAL_RANK): set it, or unset the local size");
  info.rank = static_cast<int>(rank->value);
  info.world_size = static_cast<int>(world->value);
  if (!local_rank) {
    // No launcher said where this process sits on its node: one node holds them all.
    info.local_rank = info.rank;
    info.local_world_size = info.world_size;
  } else {
    // A known local rank with no local size (srun without --ntasks-per-node): the world size is
    // an upper bound, and only the local rank is used (it picks the GPU).
    info.local_rank = static_cast<int>(local_rank->value);
    info.local_world_size = local_world ? static_cast<int>(local_world->value) : info.world_size;
    RSD_CHECK(info.local_world_size >= 1 && info.local_world_size <= info.world_size, "launch: ",
              local_world ? local_world->var : std::string("the local world size"), "=", info.local_world_size,
              " is not between 1 and the world size ", world->var, "=", world->value);
    RSD_CHECK(info.local_rank >= 0 && info.local_rank < info.local_world_size, "launch: ", local_rank->var, "=",
              local_rank->value, " is not a local rank of ",
              local_world ? local_world->var : std::string("the world size ") + world->var, "=",
              info.local_world_size, " (local ranks count from 0)");
  }
  return info;
}

LaunchInfo detect_launch() {
  return detect_launch([](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  });
}

}  // namespace rsd::comm
