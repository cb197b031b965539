// Calling the CUDA backend from backend-neutral engine code. In a build without CUDA no tensor can
// live on a GPU, so the CUDA branch of an op is unreachable; the macro keeps it compiling there.
//   if (x.is_cuda()) RSD_CUDA_CALL(cuda::relu_forward(x, y)); else cpu::relu_forward(x, y);
#pragma once
#include "engine/error.h"

#if RSD_HAVE_CUDA
#define RSD_CUDA_CALL(...) __VA_ARGS__
#else
#define RSD_CUDA_CALL(...) ::rsd::fail("this build of rsd has no CUDA backend")
#endif
