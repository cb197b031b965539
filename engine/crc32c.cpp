#include "engine/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RSD_CRC32C_X86 1
#include <nmmintrin.h>
#else
#define RSD_CRC32C_X86 0
#endif

namespace rsd {
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
// The crc32 instruction has a latency of 3 cycles and a throughput of 1 a cycle, so one chain of
// them runs at a third of the speed the unit can: long buffers are cut into blocks of three
// stretches, each stretch's CRC computed in its own chain (interleaved), and the three joined:
// for the raw register, crc(A B) = crc(A) shifted over |B| zero bytes, xor crc_from_zero(B). The
// shift over a fixed length is linear in the register: four 256-entry tables, made once.
constexpr size_t kLongStretch = 8192, kShortStretch = 256;

struct ZeroShift {
  std::array<std::array<uint32_t, 256>, 4> t{};
  uint32_t operator()(uint32_t crc) const {
    return t[0][crc & 0xFFu] ^ t[1][(crc >> 8) & 0xFFu] ^ t[2][(crc >> 16) & 0xFFu] ^ t[3][crc >> 24];
  }
};

__attribute__((target("sse4.2"))) ZeroShift make_zero_shift(size_t bytes) {
  uint32_t basis[32];
  for (int bit = 0; bit < 32; ++bit) {
    uint64_t c = uint64_t{1} << bit;
    for (size_t i = 0; i < bytes / 8; ++i) c = _mm_crc32_u64(c, 0);
    basis[bit] = static_cast<uint32_t>(c);
  }
  ZeroShift s;
  for (size_t k = 0; k < 4; ++k) {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t v = 0;
      for (int bit = 0; bit < 8; ++bit)
        if ((b >> bit) & 1u) v ^= basis[8 * k + static_cast<size_t>(bit)];
      s.t[k][b] = v;
    }
  }
  return s;
}

// Three interleaved chains over blocks of 3 x `stretch` bytes while they last.
__attribute__((target("sse4.2"))) uint64_t three_chains(uint64_t c0, const unsigned char*& p, size_t& n,
                                                        size_t stretch, const ZeroShift& shift) {
  while (n >= 3 * stretch) {
    uint64_t c1 = 0, c2 = 0;
    const unsigned char* const end = p + stretch;
    for (; p < end; p += 8) {
      c0 = _mm_crc32_u64(c0, load_u64(p));
      c1 = _mm_crc32_u64(c1, load_u64(p + stretch));
      c2 = _mm_crc32_u64(c2, load_u64(p + 2 * stretch));
    }
    c0 = shift(static_cast<uint32_t>(c0)) ^ c1;
    c0 = shift(static_cast<uint32_t>(c0)) ^ c2;
    p += 2 * stretch;
    n -= 3 * stretch;
  }
  return c0;
}

__attribute__((target("sse4.2"))) uint32_t hardware_update(uint32_t crc, const unsigned char* p, size_t n) {
  static const ZeroShift long_shift = make_zero_shift(kLongStretch);
  static const ZeroShift short_shift = make_zero_shift(kShortStretch);
  uint64_t c = crc;
  c = three_chains(c, p, n, kLongStretch, long_shift);
  c = three_chains(c, p, n, kShortStretch, short_shift);
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

}  // namespace rsd
