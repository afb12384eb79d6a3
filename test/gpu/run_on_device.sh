#!/usr/bin/env bash
# Builds and runs the cuBLAS backend check on a CUDA machine with nvcc and g++ (no MPI, HDF5,
# Kokkos or oneDNN needed: only the linear layers are compiled).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp}
mkdir -p "$OUT/gpu_build/sci_infer"
printf '#pragma once\nnamespace sci_infer { inline constexpr const char* kVersion = "gpu-check"; inline constexpr const char* kGitCommit = "gpu-check"; }\n' \
  > "$OUT/gpu_build/sci_infer/version.hpp"
ARCH=${CUDA_ARCH:-90}
nvcc -O2 -std=c++17 -arch=sm_$ARCH --fmad=false -Iinclude -Ilib -DSCI_INFER_HAVE_CUDA=1 \
  -Xcompiler -fopenmp,-march=native,-ffp-contract=off \
  test/gpu/gpu_linear_check.cpp lib/kernels/linear_cublas.cu lib/kernels/linear_fixed_order.cpp lib/io/tensor_types.cpp \
  -lcublasLt -o "$OUT/gpu_build/gpu_linear_check"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
"$OUT/gpu_build/gpu_linear_check"
