#include "data/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RSD_CRC32C_X86 1
#include <nmmintrin.h>
#else
#define RSD_CRC32C_X86 0
#endif

namespace rsd::data {
namespace {

constexpr uint32_t kReflectedPolynomial = 0x82F63B78u;

// tables[0] is the byte-at-a-time table; tables[k][b] is the CRC of byte b followed by k zero
// bytes, so eight table look-ups advance the CRC by one 64-bit word.
using Tables = std::array<std::array<uint32_t, 256>, 8>;

Tables make_tables() {
  Tables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? kReflectedPolynomial : 0u);
    t[0][b] = crc;
  }
  for (size_t k = 1; k < 8; ++k)
    for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
  return t;
}

const Tables& tables() {
  static const Tables t = make_tables();
  return t;
}

// Reads 8 bytes as a little-endian word (shards are little-endian; so is every supported host).
uint64_t load_u64(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// `crc` here is the raw register (already inverted).
uint32_t software_update(uint32_t crc, const unsigned char* p, size_t n) {
  const Tables& t = tables();
  for (; n >= 8; p += 8, n -= 8) {
    const uint64_t w = load_u64(p) ^ crc;
    crc = t[7][w & 0xFF] ^ t[6][(w >> 8) & 0xFF] ^ t[5][(w >> 16) & 0xFF] ^ t[4][(w >> 24) & 0xFF] ^
          t[3][(w >> 32) & 0xFF] ^ t[2][(w >> 40) & 0xFF] ^ t[1][(w >> 48) & 0xFF] ^ t[0][w >> 56];
  }
  for (; n > 0; ++p, --n) crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xFFu];
  return crc;
}

#if RSD_CRC32C_X86
__attribute__((target("sse4.2"))) uint32_t hardware_update(uint32_t crc, const unsigned char* p, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; p += 8, n -= 8) c = _mm_crc32_u64(c, load_u64(p));
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}

bool detect_hardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") != 0;
}
#endif

}  // namespace

namespace detail {

uint32_t crc32c_extend_software(uint32_t crc, const void* data, size_t n) {
  return ~software_update(~crc, static_cast<const unsigned char*>(data), n);
}

bool crc32c_hardware_available() {
#if RSD_CRC32C_X86
  static const bool available = detect_hardware();
  return available;
#else
  return false;
#endif
}

}  // namespace detail

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t n) {
#if RSD_CRC32C_X86
  if (detail::crc32c_hardware_available())
    return ~hardware_update(~crc, static_cast<const unsigned char*>(data), n);
#endif
  return detail::crc32c_extend_software(crc, data, n);
}

uint32_t crc32c(const void* data, size_t n) { return crc32c_extend(0, data, n); }

}  // namespace rsd::data
