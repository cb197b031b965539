// NumPy .npy files: tensors to and from Python (weights and outputs for the test clients, exported
// embeddings). Format 1.0 on write (version 2.0 and 3.0 headers are read too), little-endian, C
// order; dtypes f32 "<f4", f64 "<f8", f16 "<f2", i32 "<i4", u8 "|u1" (NumPy has no bfloat16).
//
//   write_npy("features.npy", features);  // any device: copied to the host; written atomically
//   Tensor t = read_npy("features.npy");  // a CPU tensor
#pragma once
#include <string>

#include "engine/tensor.h"

namespace rsd {

// Writes t to path through a temporary file renamed into place (engine/atomic_file.h). A bf16
// tensor is an error (cast it to f32 first).
void write_npy(const std::string& path, const Tensor& t);

// Reads a .npy file into a new CPU tensor. Checked: the magic string, the version, the header
// dict (exactly 'descr', 'fortran_order', 'shape'), a supported little-endian dtype, C order and
// a data size equal to what the shape says. Every error is an rsd::Error naming the file.
Tensor read_npy(const std::string& path);

}  // namespace rsd
