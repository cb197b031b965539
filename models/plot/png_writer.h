// PNG files without an image library: 8-bit RGB, no interlacing, one IDAT chunk. The image data
// is compressed with zlib where the build has it (RSD_HAVE_ZLIB); otherwise, or when asked, it
// goes into stored (uncompressed) deflate blocks, which every PNG reader accepts. Chunk CRCs and
// the stored stream's Adler-32 are computed here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rsd::plot {

enum class PngDeflate {
  best,    // zlib when built with it, else stored blocks
  stored,  // stored blocks always (larger files; the path builds without zlib take)
};

// The PNG file's bytes. rgb: (height, width, 3) row-major, width x height x 3 bytes.
std::string encode_png_rgb(int width, int height, const std::vector<uint8_t>& rgb,
                           PngDeflate deflate = PngDeflate::best);

// Writes the PNG atomically (engine/atomic_file.h); errors name the path.
void write_png_rgb(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb,
                   PngDeflate deflate = PngDeflate::best);

// True when this build compresses with zlib.
bool png_zlib_compiled();

}  // namespace rsd::plot
