# Decides whether the CUDA backend is built, and finds cuDNN, NCCL and (when the toolkit lacks it)
# cuBLAS: in the CUDA toolkit, under CUDNN_ROOT / NCCL_ROOT / CUBLAS_ROOT (CMake or environment
# variables; tools/gpu-check.sh passes them), or in Python's nvidia-* wheel folders, which is where GPU
# machines that have PyTorch but no system cuDNN keep them. The wheels come in two layouts: CUDA 12
# style, one folder per library (site-packages/nvidia/cudnn/{include,lib}), and CUDA 13 style, all
# libraries in one folder (site-packages/nvidia/cu13/{include,lib}); both are searched.
# Sets RSD_HAVE_CUDA (0/1), RSD_CUDNN_LIBRARY / RSD_CUDNN_INCLUDE_DIR, RSD_NCCL_LIBRARY /
# RSD_NCCL_INCLUDE_DIR and the imported targets rsd::cudnn and (when found) rsd::nccl, and
# CUDA::cublas where FindCUDAToolkit found none.

set(RSD_HAVE_CUDA 0)
set(RSD_CUDNN_LIBRARY "not used")
set(RSD_NCCL_LIBRARY "not used")
if(RSD_CUDA STREQUAL "OFF")
  return()
endif()

include(CheckLanguage)
if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  if(RSD_CUDA STREQUAL "ON")
    message(FATAL_ERROR "RSD_CUDA=ON but no CUDA compiler (nvcc) was found; set CMAKE_CUDA_COMPILER")
  endif()
  message(STATUS "rsd: nvcc not found, building the CPU backend only")
  return()
endif()

# sm_90 machine code for Hopper, plus compute_90 PTX that newer GPUs JIT-compile.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 90)
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit REQUIRED)

# Python's nvidia-* wheels: site-packages/nvidia/<name> (CUDA 12 layout) and site-packages/nvidia/cu13
# (CUDA 13 layout), for every folder of the `nvidia` namespace package; the ones that exist.
function(rsd_python_nvidia_dirs name out)
  set(${out} "" PARENT_SCOPE)
  find_program(RSD_PYTHON3 NAMES python3 python)
  if(NOT RSD_PYTHON3)
    return()
  endif()
  execute_process(
    COMMAND ${RSD_PYTHON3} -c "import importlib.util as u, os
s = u.find_spec('nvidia')
for p in (list(s.submodule_search_locations) if s else []):
    for d in ('${name}', 'cu13'):
        if os.path.isdir(os.path.join(p, d)): print(os.path.join(p, d))"
    OUTPUT_VARIABLE dirs OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  string(REPLACE "\n" ";" dirs "${dirs}")
  set(${out} "${dirs}" PARENT_SCOPE)
endfunction()

rsd_python_nvidia_dirs(cudnn RSD_WHEEL_CUDNN)
rsd_python_nvidia_dirs(nccl RSD_WHEEL_NCCL)

# cuBLAS where the toolkit has none (a toolkit with nvcc and the runtime only, cuBLAS from the
# nvidia-cublas wheel). FindCUDAToolkit looks for libcublas.so, which the wheels lack (they ship
# libcublas.so.13 or .12 only), so the versioned names are looked for here. cuBLAS needs cublasLt,
# which sits beside it; linking it too lets the linker resolve libcublas's own dependency.
if(NOT TARGET CUDA::cublas)
  rsd_python_nvidia_dirs(cublas RSD_WHEEL_CUBLAS)
  set(_cublas_hints ${CUBLAS_ROOT} $ENV{CUBLAS_ROOT} ${RSD_WHEEL_CUBLAS})
  find_path(RSD_CUBLAS_INCLUDE_DIR cublas_v2.h HINTS ${_cublas_hints} ${CUDAToolkit_INCLUDE_DIRS}
            PATH_SUFFIXES include)
  find_library(RSD_CUBLAS_LIBRARY_PATH NAMES cublas libcublas.so.13 libcublas.so.12 NAMES_PER_DIR
               HINTS ${_cublas_hints} PATH_SUFFIXES lib lib64)
  find_library(RSD_CUBLASLT_LIBRARY_PATH NAMES cublasLt libcublasLt.so.13 libcublasLt.so.12 NAMES_PER_DIR
               HINTS ${_cublas_hints} PATH_SUFFIXES lib lib64)
  if(NOT RSD_CUBLAS_INCLUDE_DIR OR NOT RSD_CUBLAS_LIBRARY_PATH OR NOT RSD_CUBLASLT_LIBRARY_PATH)
    message(FATAL_ERROR "rsd: the CUDA toolkit has no cuBLAS and none was found elsewhere. Point "
                        "CUBLAS_ROOT at a folder with include/cublas_v2.h and lib/libcublas.so.*, or pip "
                        "install nvidia-cublas; or configure with -DRSD_CUDA=OFF")
  endif()
  add_library(CUDA::cublas UNKNOWN IMPORTED)
  set_target_properties(CUDA::cublas PROPERTIES IMPORTED_LOCATION "${RSD_CUBLAS_LIBRARY_PATH}"
                        INTERFACE_INCLUDE_DIRECTORIES "${RSD_CUBLAS_INCLUDE_DIR}"
                        INTERFACE_LINK_LIBRARIES "${RSD_CUBLASLT_LIBRARY_PATH}")
endif()

set(_cuda_root "${CUDAToolkit_LIBRARY_ROOT}")
find_path(RSD_CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_INCLUDE_DIRS} ${RSD_WHEEL_CUDNN}
  PATH_SUFFIXES include)
find_library(RSD_CUDNN_LIBRARY_PATH NAMES cudnn libcudnn.so.9 NAMES_PER_DIR
  HINTS ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_LIBRARY_DIR} ${RSD_WHEEL_CUDNN} ${_cuda_root}
  PATH_SUFFIXES lib lib64 lib/x64)
if(NOT RSD_CUDNN_INCLUDE_DIR OR NOT RSD_CUDNN_LIBRARY_PATH)
  message(FATAL_ERROR "rsd: nvcc was found but cuDNN was not. Install cuDNN 9, point CUDNN_ROOT at it, "
                      "or pip install nvidia-cudnn-cu13; or configure with -DRSD_CUDA=OFF")
endif()
add_library(rsd::cudnn UNKNOWN IMPORTED)
set_target_properties(rsd::cudnn PROPERTIES IMPORTED_LOCATION "${RSD_CUDNN_LIBRARY_PATH}"
                                            INTERFACE_INCLUDE_DIRECTORIES "${RSD_CUDNN_INCLUDE_DIR}")
set(RSD_CUDNN_LIBRARY "${RSD_CUDNN_LIBRARY_PATH}")

find_path(RSD_NCCL_INCLUDE_DIR nccl.h
  HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_INCLUDE_DIRS} ${RSD_WHEEL_NCCL}
  PATH_SUFFIXES include)
find_library(RSD_NCCL_LIBRARY_PATH NAMES nccl libnccl.so.2 NAMES_PER_DIR
  HINTS ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_LIBRARY_DIR} ${RSD_WHEEL_NCCL}
  PATH_SUFFIXES lib lib64)
if(RSD_NCCL_INCLUDE_DIR AND RSD_NCCL_LIBRARY_PATH)
  add_library(rsd::nccl UNKNOWN IMPORTED)
  set_target_properties(rsd::nccl PROPERTIES IMPORTED_LOCATION "${RSD_NCCL_LIBRARY_PATH}"
                                             INTERFACE_INCLUDE_DIRECTORIES "${RSD_NCCL_INCLUDE_DIR}")
  set(RSD_NCCL_LIBRARY "${RSD_NCCL_LIBRARY_PATH}")
else()
  set(RSD_NCCL_LIBRARY "not found")
endif()

set(RSD_HAVE_CUDA 1)
