// A 5 x 7 pixel bitmap font for text in PNG plots: digits, upper- and lower-case letters, space
// and . - + % / ( ) : _ , = [ ] # ' * ! ? < > " |. Each glyph is 7 rows of 5 bits (bit 4 is
// the leftmost column); characters without a glyph draw as a hollow box.
#pragma once
#include <array>
#include <cstdint>

namespace rsd::plot {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 7;

using GlyphRows = std::array<uint8_t, kGlyphHeight>;

// The glyph of c (the hollow box when the font has none).
const GlyphRows& glyph_of(char c);
// True when the font has a glyph for c.
bool has_glyph(char c);

}  // namespace rsd::plot
