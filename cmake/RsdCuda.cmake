# Decides whether the CUDA backend is built, and finds cuDNN and NCCL: in the CUDA toolkit, under
# CUDNN_ROOT / NCCL_ROOT (CMake or environment variables), or in Python's nvidia-* wheel folders
# (site-packages/nvidia/cudnn, site-packages/nvidia/nccl), which is where GPU machines that have
# PyTorch but no system cuDNN keep them.
# Sets RSD_HAVE_CUDA (0/1), RSD_CUDNN_LIBRARY / RSD_CUDNN_INCLUDE_DIR, RSD_NCCL_LIBRARY /
# RSD_NCCL_INCLUDE_DIR and the imported targets rsd::cudnn and (when found) rsd::nccl.

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

# Python's nvidia-* wheels: site-packages/nvidia/<name>/{include,lib}.
function(rsd_python_nvidia_dir name out)
  set(${out} "" PARENT_SCOPE)
  find_program(RSD_PYTHON3 NAMES python3 python)
  if(NOT RSD_PYTHON3)
    return()
  endif()
  execute_process(
    COMMAND ${RSD_PYTHON3} -c "import importlib.util as u; s = u.find_spec('nvidia.${name}'); print(list(s.submodule_search_locations)[0] if s else '')"
    OUTPUT_VARIABLE dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

rsd_python_nvidia_dir(cudnn RSD_WHEEL_CUDNN)
rsd_python_nvidia_dir(nccl RSD_WHEEL_NCCL)

set(_cuda_root "${CUDAToolkit_LIBRARY_ROOT}")
find_path(RSD_CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_INCLUDE_DIRS} ${RSD_WHEEL_CUDNN}
  PATH_SUFFIXES include)
find_library(RSD_CUDNN_LIBRARY_PATH NAMES cudnn libcudnn.so.9
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
find_library(RSD_NCCL_LIBRARY_PATH NAMES nccl libnccl.so.2
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
