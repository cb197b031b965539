#include "engine/npy.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <vector>

#include "engine/atomic_file.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "engine/npy.cpp writes and reads the host's bytes as little-endian data"
#endif

namespace rsd {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kAlignment = 64;  // NumPy pads the header so the data starts 64-byte aligned

const char* npy_descr(DType t) {
  switch (t) {
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::f16: return "<f2";
    case DType::i32: return "<i4";
    case DType::u8: return "|u1";
    case DType::bf16: return nullptr;
  }
  return nullptr;
}

std::string shape_tuple(const Shape& shape) {
  if (shape.size() == 1) return str_cat("(", shape[0], ",)");
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += str_cat(i ? ", " : "", shape[i]);
  return s + ")";
}

// Magic, version 1.0, the header length (u16, little-endian) and the header dict padded with
// spaces and ended by '\n' so the data starts at a multiple of kAlignment. A dict longer than a
// u16 (thousands of dimensions) is written as version 2.0, with a u32 length, as NumPy does (the
// u16 used to wrap and give a file read_npy refused: docs/fuzzing.md).
std::string npy_header(const char* descr, const Shape& shape) {
  const std::string dict =
      str_cat("{'descr': '", descr, "', 'fortran_order': False, 'shape': ", shape_tuple(shape), ", }");
  for (const size_t width : {size_t{2}, size_t{4}}) {
    std::string padded = dict;
    const size_t unpadded = kMagicSize + 2 + width + padded.size() + 1;
    padded.append((kAlignment - unpadded % kAlignment) % kAlignment, ' ');
    padded += '\n';
    if (width == 2 && padded.size() > 0xFFFF) continue;
    std::string out(kMagic, kMagicSize);
    out += width == 2 ? '\x01' : '\x02';
    out += '\x00';
    for (size_t i = 0; i < width; ++i) out += static_cast<char>((padded.size() >> (8 * i)) & 0xFF);
    return out + padded;
  }
  fail("write_npy: the header of shape ", shape_str(shape), " is too long for a .npy file");
}

// A reader of the header dict: a Python literal {'key': value, ...} whose values are strings,
// True/False or tuples of non-negative integers, which is everything NumPy writes there.
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  struct Fields {
    std::string descr;
    bool fortran_order = false;
    Shape shape;
  };

  Fields parse() {
    Fields f;
    std::map<std::string, bool> seen;
    expect('{');
    while (!peek('}')) {
      const std::string key = string_literal();
      expect(':');
      if (seen[key]) bad(str_cat("the key '", key, "' appears twice"));
      seen[key] = true;
      if (key == "descr") {
        f.descr = string_literal();
      } else if (key == "fortran_order") {
        f.fortran_order = boolean();
      } else if (key == "shape") {
        f.shape = tuple();
      } else {
        bad(str_cat("unexpected key '", key, "' (a .npy header holds descr, fortran_order and shape)"));
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    skip_space();
    if (pos_ != text_.size()) bad("text after the closing brace");
    for (const char* key : {"descr", "fortran_order", "shape"})
      if (!seen[key]) bad(str_cat("the key '", key, "' is missing"));
    return f;
  }

 private:
  [[noreturn]] void bad(const std::string& why) const {
    fail("read_npy: ", path_, ": bad header dict (", why, "): ", text_);
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) bad(str_cat("expected '", c, "' at offset ", pos_));
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"'))
      bad(str_cat("expected a string at offset ", pos_));
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) bad("an unterminated string");
    std::string s = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair<const char*, bool>{"True", true}, {"False", false}}) {
      const size_t n = std::strlen(word);
      if (text_.compare(pos_, n, word) == 0) {
        pos_ += n;
        return value;
      }
    }
    bad(str_cat("expected True or False at offset ", pos_));
  }
  int64_t integer() {
    skip_space();
    if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_])))
      bad(str_cat("expected a non-negative integer at offset ", pos_));
    int64_t v = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      const int64_t digit = text_[pos_++] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - digit) / 10) bad("a dimension too large");
      v = v * 10 + digit;
    }
    return v;
  }
  Shape tuple() {
    Shape s;
    expect('(');
    while (!peek(')')) {
      s.push_back(integer());
      if (!peek(')')) expect(',');
    }
    expect(')');
    return s;
  }

  const std::string& path_;
  const std::string& text_;
  size_t pos_ = 0;
};

DType dtype_of_descr(const std::string& path, const std::string& descr) {
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::i32, DType::u8})
    if (descr == npy_descr(t)) return t;
  if (descr == "<u1" || descr == "=u1") return DType::u8;
  RSD_CHECK(descr.empty() || descr[0] != '>', "read_npy: ", path, ": big-endian data ('", descr,
            "') is not supported; save it little-endian");
  fail("read_npy: ", path, ": unsupported dtype '", descr, "' (supported: <f4, <f8, <f2, <i4, |u1)");
}

uint32_t little_endian(const std::string& bytes, size_t at, size_t width) {
  uint32_t v = 0;
  for (size_t i = 0; i < width; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  RSD_CHECK(in.good(), "read_npy: cannot open ", path, ": ", std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  RSD_CHECK(!in.bad(), "read_npy: cannot read ", path, ": ", std::strerror(errno));
  return bytes;
}

}  // namespace

void write_npy(const std::string& path, const Tensor& t) {
  RSD_CHECK(t.defined(), "write_npy: ", path, ": the tensor is undefined");
  const char* descr = npy_descr(t.dtype());
  RSD_CHECK(descr != nullptr, "write_npy: ", path, ": NumPy has no ", dtype_name(t.dtype()), " type (tensor ",
            t.describe(), "); cast it to f32 first");
  Tensor host = t;
  if (!t.device().is_cpu()) {
    host = Tensor::empty(t.shape(), t.dtype(), Device::cpu());
    host.copy_from(t);
  }
  std::string content = npy_header(descr, t.shape());
  if (host.nbytes() > 0) content.append(static_cast<const char*>(host.raw()), host.nbytes());
  write_file_atomically(path, content);
}

Tensor read_npy(const std::string& path) {
  const std::string bytes = read_all(path);
  RSD_CHECK(bytes.size() >= kMagicSize + 2 && bytes.compare(0, kMagicSize, kMagic, kMagicSize) == 0, "read_npy: ",
            path, " is not a .npy file (it does not start with \\x93NUMPY)");
  const int major = static_cast<unsigned char>(bytes[kMagicSize]);
  const int minor = static_cast<unsigned char>(bytes[kMagicSize + 1]);
  RSD_CHECK(major >= 1 && major <= 3, "read_npy: ", path, ": unsupported .npy version ", major, ".", minor,
            " (1.0, 2.0 and 3.0 are read)");
  const size_t length_width = major == 1 ? 2 : 4;
  const size_t header_start = kMagicSize + 2 + length_width;
  RSD_CHECK(bytes.size() >= header_start, "read_npy: ", path, ": truncated in the header (", bytes.size(), " bytes)");
  const size_t header_size = little_endian(bytes, kMagicSize + 2, length_width);
  const size_t data_start = header_start + header_size;
  RSD_CHECK(bytes.size() >= data_start, "read_npy: ", path, ": truncated in the header (", header_size,
            " header bytes announced, ", bytes.size() - header_start, " present)");
  const std::string text = bytes.substr(header_start, header_size);
  RSD_CHECK(!text.empty() && text.back() == '\n', "read_npy: ", path, ": the header does not end with a newline");

  const HeaderParser::Fields f = HeaderParser(path, text).parse();
  const DType dtype = dtype_of_descr(path, f.descr);
  RSD_CHECK(!f.fortran_order, "read_npy: ", path, ": Fortran-ordered data is not supported; save it in C order");
  int64_t numel = 1;
  for (int64_t d : f.shape) {
    RSD_CHECK(d == 0 || numel <= std::numeric_limits<int64_t>::max() / d, "read_npy: ", path, ": shape ",
              shape_tuple(f.shape), " is too large");
    numel *= d;
  }
  // numel fits int64_t, its bytes may not: (2^61,) of '<f8' wrapped to 0 bytes and gave a tensor of
  // 2^61 elements without storage (docs/fuzzing.md).
  size_t expected = 0;
  RSD_CHECK(!__builtin_mul_overflow(static_cast<size_t>(numel), dtype_size(dtype), &expected), "read_npy: ", path,
            ": shape ", shape_tuple(f.shape), " of '", f.descr, "' is too large");
  const size_t present = bytes.size() - data_start;
  RSD_CHECK(present >= expected, "read_npy: ", path, ": truncated data: shape ", shape_tuple(f.shape), " of '",
            f.descr, "' needs ", expected, " bytes, the file holds ", present);
  RSD_CHECK(present == expected, "read_npy: ", path, ": ", present - expected, " bytes after the data of shape ",
            shape_tuple(f.shape), " of '", f.descr, "'");
  Tensor t = Tensor::empty(f.shape, dtype, Device::cpu());
  if (expected > 0) std::memcpy(t.raw(), bytes.data() + data_start, expected);
  return t;
}

}  // namespace rsd
