#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "engine/allocator.h"
#include "engine/atomic_file.h"
#include "engine/crc32c.h"
#include "engine/error.h"
#include "engine/json_limits.h"

namespace rsd {

// Tensor bytes go to and from the file as they lie in memory; the format is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace {

using nlohmann::json;

// Larger headers are refused as corrupt (the reference implementation's limit).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

// Every dtype the format defines with a whole-byte element, so that files holding dtypes rsd lacks
// still validate and their other tensors can be read.
struct StoredDType {
  const char* name;
  size_t bytes;
  std::optional<DType> rsd;
};
constexpr StoredDType kStoredDTypes[] = {
    {"F64", 8, DType::f64},       {"F32", 4, DType::f32},        {"F16", 2, DType::f16},
    {"BF16", 2, DType::bf16},     {"I32", 4, DType::i32},        {"U8", 1, DType::u8},
    {"I64", 8, std::nullopt},     {"U64", 8, std::nullopt},      {"U32", 4, std::nullopt},
    {"I16", 2, std::nullopt},     {"U16", 2, std::nullopt},      {"I8", 1, std::nullopt},
    {"BOOL", 1, std::nullopt},    {"F8_E4M3", 1, std::nullopt},  {"F8_E5M2", 1, std::nullopt},
};

const StoredDType* find_stored_dtype(const std::string& name) {
  for (const StoredDType& d : kStoredDTypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

const char* stored_name(DType t) {
  for (const StoredDType& d : kStoredDTypes) {
    if (d.rsd == t) return d.name;
  }
  fail("safetensors: no stored name for dtype ", dtype_name(t));
}

std::string offsets_str(uint64_t begin, uint64_t end) { return str_cat("[", begin, ", ", end, "]"); }

// ---- writing ----

std::string header_json(const std::vector<std::pair<std::string, Tensor>>& tensors,
                        const std::map<std::string, std::string>& metadata, const std::string& path) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    RSD_CHECK(!name.empty() && name != kMetadataKey, "cannot write ", path, ": invalid tensor name \"", name, "\"");
    RSD_CHECK(seen.insert(name).second, "cannot write ", path, ": tensor name \"", name, "\" appears twice");
    RSD_CHECK(t.defined(), "cannot write ", path, ": tensor \"", name, "\" is undefined");
    const uint64_t end = offset + t.nbytes();
    header[name] = {{"dtype", stored_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail("cannot write ", path, ": a tensor name or metadata entry is not valid UTF-8 (", e.what(), ")");
  }
  // Padding to a multiple of 8 keeps the data start (8 + N) 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// Inf and NaN in host memory holding n elements of a floating dtype.
NonFiniteCount count_non_finite_host(const void* data, DType dtype, int64_t n) {
  NonFiniteCount c;
  auto visit = [&](int64_t i, double v) {
    if (std::isfinite(v)) return;
    if (c.count++ == 0) {
      c.first = i;
      c.first_value = v;
    }
  };
  switch (dtype) {
    case DType::f32:
      for (int64_t i = 0; i < n; ++i) visit(i, static_cast<const float*>(data)[i]);
      break;
    case DType::f64:
      for (int64_t i = 0; i < n; ++i) visit(i, static_cast<const double*>(data)[i]);
      break;
    case DType::bf16:
      for (int64_t i = 0; i < n; ++i) visit(i, bf16_bits_to_float(static_cast<const uint16_t*>(data)[i]));
      break;
    case DType::f16:
      for (int64_t i = 0; i < n; ++i) visit(i, f16_bits_to_float(static_cast<const uint16_t*>(data)[i]));
      break;
    default:
      break;
  }
  return c;
}

void check_finite(const void* data, const Tensor& t) {
  const NonFiniteCount c = count_non_finite_host(data, t.dtype(), t.numel());
  if (c.count == 0) return;
  throw NonFiniteError(str_cat("holds ", c.count, " non-finite value", c.count == 1 ? "" : "s", " of ", t.numel(),
                               " (the first, element ", c.first, ", is ", c.first_value, ")"));
}

// Writes the tensor's bytes and returns their CRC32C.
uint32_t write_tensor_bytes(AtomicFileWriter& out, const Tensor& t, const SafetensorsWriteOptions& options) {
  if (t.nbytes() == 0) return 0;
  if (t.device().is_cpu()) {
    if (options.require_finite) check_finite(t.raw(), t);
    out.write(t.raw(), t.nbytes());
    return crc32c(t.raw(), t.nbytes());
  }
  ArenaSuspend outside_arena;
  Tensor host = Tensor::empty(t.shape(), t.dtype(), Device::cpu());
  host.copy_from(t);
  if (options.require_finite) check_finite(host.raw(), t);
  out.write(host.raw(), host.nbytes());
  return crc32c(host.raw(), host.nbytes());
}

// ---- reading ----

void read_exactly(int fd, void* dst, uint64_t bytes, uint64_t offset, const std::string& path,
                  const std::string& what) {
  char* p = static_cast<char*>(dst);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd, p, bytes, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    RSD_CHECK(n >= 0, path, ": cannot read ", what, ": ", std::strerror(errno));
    RSD_CHECK(n > 0, path, ": the file ended while reading ", what,
              " (it was truncated or changed after it was opened)");
    p += n;
    bytes -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

uint64_t json_unsigned(const json& v, const std::string& path, const std::string& what) {
  RSD_CHECK(v.is_number(), path, ": ", what, " is ", v.dump(), ", not a number");
  RSD_CHECK(!v.is_number_integer() || v.is_number_unsigned(), path, ": ", what, " is negative (", v.dump(), ")");
  RSD_CHECK(v.is_number_unsigned(), path, ": ", what, " is not an integer (", v.dump(), ")");
  return v.get<uint64_t>();
}

// numel x element size, or nullopt when it cannot fit in 64 bits.
std::optional<uint64_t> byte_size(const Shape& shape, size_t element_bytes) {
  uint64_t n = element_bytes;
  for (int64_t d : shape) {
    if (d == 0) return 0;
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  }
  return n;
}

SafetensorsFile::Entry parse_entry(const std::string& name, const json& j, const std::string& path) {
  const std::string where = str_cat("tensor \"", name, "\"");
  RSD_CHECK(j.is_object(), path, ": ", where, " is described by ", j.type_name(), ", not an object");
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    RSD_CHECK(j.contains(key), path, ": ", where, " has no \"", key, "\"");
  }
  SafetensorsFile::Entry e;
  e.name = name;
  RSD_CHECK(j["dtype"].is_string(), path, ": ", where, ": dtype ", j["dtype"].dump(), " is not a string");
  e.stored_dtype = j["dtype"].get<std::string>();
  const StoredDType* dtype = find_stored_dtype(e.stored_dtype);
  RSD_CHECK(dtype != nullptr, path, ": ", where, " has the unknown dtype \"", e.stored_dtype, "\"");

  const json& shape = j["shape"];
  RSD_CHECK(shape.is_array(), path, ": ", where, ": shape ", shape.dump(), " is not an array");
  for (const json& d : shape) {
    const uint64_t v = json_unsigned(d, path, str_cat(where, ": a dimension of shape ", shape.dump()));
    RSD_CHECK(v <= static_cast<uint64_t>(INT64_MAX), path, ": ", where, ": dimension ", v, " is too large");
    e.shape.push_back(static_cast<int64_t>(v));
  }

  const json& offsets = j["data_offsets"];
  RSD_CHECK(offsets.is_array() && offsets.size() == 2, path, ": ", where, ": data_offsets ", offsets.dump(),
            " is not a pair [begin, end]");
  e.begin = json_unsigned(offsets[0], path, str_cat(where, ": data_offsets begin"));
  e.end = json_unsigned(offsets[1], path, str_cat(where, ": data_offsets end"));
  RSD_CHECK(e.begin <= e.end, path, ": ", where, ": data_offsets ", offsets_str(e.begin, e.end),
            " end before they begin");
  const std::optional<uint64_t> expected = byte_size(e.shape, dtype->bytes);
  RSD_CHECK(expected && *expected == e.end - e.begin, path, ": ", where, ": data_offsets ",
            offsets_str(e.begin, e.end), " span ", e.end - e.begin, " bytes, but ", e.stored_dtype, " ",
            shape_str(e.shape), " needs ", expected ? str_cat(*expected) : std::string("more than 2^64"));
  return e;
}

std::map<std::string, std::string> parse_metadata(const json& j, const std::string& path) {
  RSD_CHECK(j.is_object(), path, ": __metadata__ is ", j.type_name(), ", not an object of strings");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : j.items()) {
    RSD_CHECK(value.is_string(), path, ": __metadata__ value of \"", key, "\" is ", value.dump(),
              ", not a string");
    metadata[key] = value.get<std::string>();
  }
  return metadata;
}

// The tensors must tile the data region exactly: sorted by offset, each begins where the previous
// one ended, the last ends at the end of the file.
void check_coverage(const std::vector<SafetensorsFile::Entry>& entries, uint64_t data_bytes, const std::string& path) {
  uint64_t covered = 0;
  for (const SafetensorsFile::Entry& e : entries) covered = std::max(covered, e.end);
  RSD_CHECK(covered <= data_bytes, path, ": truncated: header says ", covered, " bytes of data, file has ", data_bytes,
            "; the file is incomplete, use an earlier checkpoint");
  uint64_t position = 0;
  const SafetensorsFile::Entry* previous = nullptr;
  for (const SafetensorsFile::Entry& e : entries) {
    RSD_CHECK(e.begin >= position, path, ": tensors \"", previous ? previous->name : "", "\" ",
              previous ? offsets_str(previous->begin, previous->end) : "", " and \"", e.name, "\" ",
              offsets_str(e.begin, e.end), " overlap");
    RSD_CHECK(e.begin == position, path, ": data bytes [", position, ", ", e.begin,
              ") belong to no tensor (the data region is not fully covered)");
    position = e.end;
    previous = &e;
  }
  RSD_CHECK(position == data_bytes, path, ": trailing bytes: ", data_bytes - position,
            " bytes after the last tensor's data (header covers ", position, " of ", data_bytes, " bytes)");
}

}  // namespace

struct SafetensorsFile::State {
  std::string path;
  int fd = -1;
  uint64_t data_start = 0;
  std::map<std::string, std::string> metadata;
  std::vector<Entry> entries;  // in data order
  std::map<std::string, size_t> index;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (fd >= 0) ::close(fd);
  }
};

NonFiniteCount count_non_finite(const Tensor& t) {
  if (!is_floating(t.dtype()) || t.numel() == 0) return {};
  if (t.device().is_cpu()) return count_non_finite_host(t.raw(), t.dtype(), t.numel());
  ArenaSuspend outside_arena;
  Tensor host = Tensor::empty(t.shape(), t.dtype(), Device::cpu());
  host.copy_from(t);
  return count_non_finite_host(host.raw(), t.dtype(), t.numel());
}

std::vector<std::pair<std::string, uint32_t>> write_safetensors(
    const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata, const SafetensorsWriteOptions& options) {
  std::vector<std::pair<std::string, uint32_t>> crcs;
  const std::string header = header_json(tensors, metadata, path);
  AtomicFileWriter out(path);
  const uint64_t length = header.size();
  out.write(&length, sizeof(length));
  out.write(header);
  for (const auto& [name, t] : tensors) {
    try {
      crcs.emplace_back(name, write_tensor_bytes(out, t, options));
    } catch (const NonFiniteError& e) {
      throw NonFiniteError(str_cat("cannot write ", path, ": tensor \"", name, "\" ", t.describe(), " ", e.what()));
    } catch (const Error& e) {
      fail("cannot write ", path, ": tensor \"", name, "\" ", t.describe(), ": ", e.what());
    }
  }
  out.commit();
  return crcs;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto state = std::make_shared<State>();
  state->path = path;
  state->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  RSD_CHECK(state->fd >= 0, "cannot open ", path, ": ", std::strerror(errno));
  struct stat st {};
  RSD_CHECK(::fstat(state->fd, &st) == 0, "cannot stat ", path, ": ", std::strerror(errno));
  RSD_CHECK(S_ISREG(st.st_mode), path, ": not a regular file");
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);
  RSD_CHECK(file_bytes >= 8, path, ": not a safetensors file: ", file_bytes,
            " bytes, shorter than the 8-byte header length; the file is incomplete, use an earlier checkpoint");

  uint64_t header_bytes = 0;
  read_exactly(state->fd, &header_bytes, 8, 0, path, "the header length");
  RSD_CHECK(header_bytes <= kMaxHeaderBytes, path, ": header length ", header_bytes, " is beyond the limit of ",
            kMaxHeaderBytes, " bytes: not a safetensors file, or a corrupted one");
  RSD_CHECK(header_bytes <= file_bytes - 8, path, ": truncated: header says ", header_bytes,
            " bytes of JSON, file has ", file_bytes - 8, " after the length; the file is incomplete, use an earlier "
            "checkpoint");
  std::string text(header_bytes, '\0');
  read_exactly(state->fd, text.data(), header_bytes, 8, path, "the header");
  state->data_start = 8 + header_bytes;

  // nlohmann's parser stops at a NUL byte; the format allows none (only spaces may pad the JSON).
  const size_t nul = text.find('\0');
  RSD_CHECK(nul == std::string::npos, path, ": header is not valid JSON (a NUL byte at offset ", 8 + nul,
            "); not a safetensors file, or a corrupted one");
  RSD_CHECK(json_depth(text.data(), text.size()) <= kMaxJsonDepth, path, ": header nests JSON deeper than ",
            kMaxJsonDepth, " levels; not a safetensors file, or a corrupted one");
  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {
    fail(path, ": header is not valid JSON (", e.what(), "); not a safetensors file, or a corrupted one");
  }
  RSD_CHECK(header.is_object(), path, ": header is a JSON ", header.type_name(), ", not an object");
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      state->metadata = parse_metadata(value, path);
    } else {
      state->entries.push_back(parse_entry(name, value, path));
    }
  }
  std::sort(state->entries.begin(), state->entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  check_coverage(state->entries, file_bytes - state->data_start, path);
  for (size_t i = 0; i < state->entries.size(); ++i) state->index[state->entries[i].name] = i;
  return SafetensorsFile(std::move(state));
}

const std::string& SafetensorsFile::path() const { return state_->path; }

const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return state_->metadata; }

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> names;
  names.reserve(state_->entries.size());
  for (const Entry& e : state_->entries) names.push_back(e.name);
  return names;
}

bool SafetensorsFile::contains(const std::string& name) const { return state_->index.count(name) != 0; }

const SafetensorsFile::Entry& SafetensorsFile::entry(const std::string& name) const {
  const auto it = state_->index.find(name);
  RSD_CHECK(it != state_->index.end(), state_->path, ": no tensor named \"", name, "\" (the file holds ",
            state_->entries.size(), " tensors)");
  return state_->entries[it->second];
}

DType SafetensorsFile::dtype(const std::string& name) const {
  const Entry& e = entry(name);
  const StoredDType* stored = find_stored_dtype(e.stored_dtype);
  RSD_CHECK(stored->rsd.has_value(), state_->path, ": tensor \"", name, "\" has dtype ", e.stored_dtype,
            ", which rsd does not support (F32 F64 BF16 F16 I32 U8)");
  return *stored->rsd;
}

const std::string& SafetensorsFile::stored_dtype(const std::string& name) const { return entry(name).stored_dtype; }

const Shape& SafetensorsFile::shape(const std::string& name) const { return entry(name).shape; }

Tensor SafetensorsFile::read(const std::string& name) const {
  const Entry& e = entry(name);
  ArenaSuspend outside_arena;  // a loaded tensor outlives any training step
  Tensor t = Tensor::empty(e.shape, dtype(name), Device::cpu());
  if (e.end > e.begin) {
    read_exactly(state_->fd, t.raw(), e.end - e.begin, state_->data_start + e.begin, state_->path,
                 str_cat("tensor \"", name, "\""));
  }
  return t;
}

void SafetensorsFile::read_into(const std::string& name, Tensor& dst) const {
  const Entry& e = entry(name);
  RSD_CHECK(dst.defined(), state_->path, ": tensor \"", name, "\" read into an undefined tensor");
  RSD_CHECK(dst.shape() == e.shape, state_->path, ": tensor \"", name, "\" is ", e.stored_dtype, " ",
            shape_str(e.shape), " in the file, but the destination is ", dst.describe());
  const DType stored = dtype(name);
  if (dst.device().is_cpu() && dst.dtype() == stored) {
    if (e.end > e.begin) {
      read_exactly(state_->fd, dst.raw(), e.end - e.begin, state_->data_start + e.begin, state_->path,
                   str_cat("tensor \"", name, "\""));
    }
    return;
  }
  dst.copy_from(read(name));
}

uint32_t SafetensorsFile::crc32c(const std::string& name) const {
  const Entry& e = entry(name);
  std::vector<unsigned char> chunk(std::min<uint64_t>(e.end - e.begin, uint64_t{1} << 20));
  uint32_t crc = 0;
  for (uint64_t at = e.begin; at < e.end;) {
    const uint64_t n = std::min<uint64_t>(chunk.size(), e.end - at);
    read_exactly(state_->fd, chunk.data(), n, state_->data_start + at, state_->path, str_cat("tensor \"", name, "\""));
    crc = crc32c_extend(crc, chunk.data(), n);
    at += n;
  }
  return crc;
}

}  // namespace rsd
