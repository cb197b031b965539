// CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78): the checksum of every shard
// record and header and of every checkpoint tensor. The SSE4.2 instruction computes it in hardware on x86-64 (about 10x the
// table-driven speed; long buffers in three interleaved chains, about 3x one chain's speed);
// elsewhere a slice-by-8 table does. Both give the same value:
// crc32c("123456789") = 0xE3069283.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rsd {

// CRC32C of n bytes.
uint32_t crc32c(const void* data, size_t n);

// Continues a CRC32C: crc32c_extend(crc32c(a), b) == crc32c(a followed by b).
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t n);

namespace detail {
// The table-driven path and whether the hardware path is in use, exposed for the tests.
uint32_t crc32c_extend_software(uint32_t crc, const void* data, size_t n);
bool crc32c_hardware_available();
}  // namespace detail

}  // namespace rsd
