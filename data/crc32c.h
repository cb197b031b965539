// Moved to engine/crc32c.h (checkpoints use it too); this forwards the old name for the fuzz
// targets until they include the new one.
#pragma once
#include "engine/crc32c.h"

namespace rsd::data {
using rsd::crc32c;
using rsd::crc32c_extend;
namespace detail {
using rsd::detail::crc32c_extend_software;
using rsd::detail::crc32c_hardware_available;
}  // namespace detail
}  // namespace rsd::data
