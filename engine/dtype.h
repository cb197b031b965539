// Element types a tensor can hold. bf16 and f16 are stored as 16-bit patterns on the host; the CPU
// backend converts them only in casts (it computes in f32 and f64), CUDA computes with them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rsd {

enum class DType : uint8_t { f32, f64, bf16, f16, i32, u8 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
bool is_floating(DType t);

// Host conversions for the 16-bit float formats (round to nearest even, NaN kept NaN).
uint16_t float_to_bf16_bits(float f);
float bf16_bits_to_float(uint16_t b);
uint16_t float_to_f16_bits(float f);
float f16_bits_to_float(uint16_t h);

// The DType of a C++ element type, for typed access to tensor data.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }

}  // namespace rsd
