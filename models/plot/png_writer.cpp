#include "models/plot/png_writer.h"

#include <algorithm>
#include <array>
#include <limits>

#include "engine/atomic_file.h"
#include "engine/error.h"

#ifndef RSD_HAVE_ZLIB
#define RSD_HAVE_ZLIB 0
#endif
#if RSD_HAVE_ZLIB
#include <zlib.h>
#endif

namespace rsd::plot {
namespace {

// CRC-32 of PNG chunks (ISO 3309, reflected polynomial 0xEDB88320), one table lookup a byte.
uint32_t crc32_of(const std::string& bytes) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (const char ch : bytes) crc = table[(crc ^ static_cast<uint8_t>(ch)) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

// Adler-32 of a zlib stream's uncompressed data (RFC 1950).
uint32_t adler32_of(const std::string& bytes) {
  constexpr uint32_t kMod = 65521;
  uint32_t a = 1, b = 0;
  for (const char ch : bytes) {
    a = (a + static_cast<uint8_t>(ch)) % kMod;
    b = (b + a) % kMod;
  }
  return (b << 16) | a;
}

void put_u32_be(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFFu);
}

// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951, BTYPE 00), at most 65535 bytes each.
std::string zlib_stored(const std::string& data) {
  std::string out = "\x78\x01";  // deflate, 32 KiB window, no dictionary; (0x78 * 256 + 0x01) % 31 == 0
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, data.size() - pos);
    const bool last = pos + n == data.size();
    out += static_cast<char>(last ? 1 : 0);
    const auto len = static_cast<uint16_t>(n), nlen = static_cast<uint16_t>(~len);
    out += static_cast<char>(len & 0xFFu);
    out += static_cast<char>(len >> 8);
    out += static_cast<char>(nlen & 0xFFu);
    out += static_cast<char>(nlen >> 8);
    out.append(data, pos, n);
    pos += n;
  } while (pos < data.size());
  put_u32_be(out, adler32_of(data));
  return out;
}

std::string zlib_compressed(const std::string& data) {
#if RSD_HAVE_ZLIB
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string out(size, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(data.data()),
                           static_cast<uLong>(data.size()), Z_BEST_COMPRESSION);
  RSD_CHECK(rc == Z_OK, "PNG: zlib compress2 failed (code ", rc, ")");
  out.resize(size);
  return out;
#else
  return zlib_stored(data);
#endif
}

void put_chunk(std::string& png, const char* type, const std::string& data) {
  put_u32_be(png, static_cast<uint32_t>(data.size()));
  const std::string typed = std::string(type, 4) + data;
  png += typed;
  put_u32_be(png, crc32_of(typed));
}

}  // namespace

bool png_zlib_compiled() { return RSD_HAVE_ZLIB != 0; }

std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb, PngDeflate deflate) {
  RSD_CHECK(width >= 1 && height >= 1, "PNG: the image must be at least 1 x 1 pixels, got ", width, " x ", height);
  const size_t row_bytes = static_cast<size_t>(width) * 3;
  RSD_CHECK(row_bytes * static_cast<size_t>(height) < std::numeric_limits<uint32_t>::max() / 2,
            "PNG: a ", width, " x ", height, " image is too large");
  RSD_CHECK(rgb.size() == row_bytes * static_cast<size_t>(height), "PNG: a ", width, " x ", height,
            " RGB image needs ", row_bytes * static_cast<size_t>(height), " bytes, got ", rgb.size());

  // Scanlines, each led by its filter type (0: none; flat plot colours compress well as they are).
  std::string raw;
  raw.reserve((row_bytes + 1) * static_cast<size_t>(height));
  for (int y = 0; y < height; ++y) {
    raw += '\0';
    raw.append(reinterpret_cast<const char*>(rgb.data()) + static_cast<size_t>(y) * row_bytes, row_bytes);
  }

  std::string header;
  put_u32_be(header, static_cast<uint32_t>(width));
  put_u32_be(header, static_cast<uint32_t>(height));
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, adaptive filters, no interlace

  std::string png = "\x89PNG\r\n\x1a\n";
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", deflate == PngDeflate::stored ? zlib_stored(raw) : zlib_compressed(raw));
  put_chunk(png, "IEND", "");
  return png;
}

void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb,
                   PngDeflate deflate) {
  std::string png;
  try {
    png = encode_png_rgb(width, height, rgb, deflate);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  write_file_atomically(path, png);
}

}  // namespace rsd::plot
