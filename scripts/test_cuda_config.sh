#!/usr/bin/env bash
# The CUDA configuration, compiled only: Kokkos 4.6 with its CUDA backend (built from
# ../shared/kokkos, or SCI_INFER_KOKKOS_SRC, into a cached prefix) and -DSCI_INFER_CUDA=ON, every
# target (library, launcher, bindings, benchmarks, tests) compiled by nvcc through Kokkos'
# nvcc_wrapper. Nothing runs: CI has no GPU. What it proves: device-illegal code in the Kokkos
# kernels (a host function called from a kernel, a host-only lambda capture, ...) fails the build.
#   SCI_INFER_CUDA_ARCH   Kokkos architecture: HOPPER90 (default: H100/H200) or AMPERE80 (A100:
#                         Polaris, Sophia); the prefix and build directory are per architecture.
#   SCI_INFER_CUDA_CONFIG=0  skips it (loudly).
#   SCI_INFER_CUDA_TARGETS   build only these targets (default: the library, where every Kokkos
#                            kernel lives, the C API and the launcher; "all" for every target).
# Without nvcc it is skipped loudly, and fails with CI=true; without the Kokkos source (a user's
# clone) it is skipped loudly, as the OpenMP configuration is. The reason is repeated after the
# test summary (scripts/test.sh, SECOND_CONFIG_SKIP_FILE).
# Time: Kokkos CUDA once, then cached (~10 min on 2 idle cores per build-kokkos.sh; 53 min measured
# here at nice 10 on 2 cores shared by 7 builds); sci_infer's 85 objects through nvcc_wrapper took
# ~45 s each under that load (27 in 20 min), so budget ~30-40 min from clean on 2 idle cores and a
# few minutes once ccache is warm (ccache wraps nvcc_wrapper and nvcc).
set -euo pipefail
cd "$(dirname "$0")/.."
KOKKOS_SRC=${SCI_INFER_KOKKOS_SRC:-../shared/kokkos}
ARCH=${SCI_INFER_CUDA_ARCH:-HOPPER90}
skip() {
  echo "[test] *** SKIPPED the CUDA configuration (Kokkos CUDA $ARCH, compile only): $1 ***" \
    | tee -a "${SECOND_CONFIG_SKIP_FILE:-/dev/null}"
  exit 0
}
[ "${SCI_INFER_CUDA_CONFIG:-1}" = 0 ] && skip "SCI_INFER_CUDA_CONFIG=0"
case $ARCH in
  AMPERE80) SM=80 ;;
  HOPPER90) SM=90 ;;
  *) echo "[test] *** CUDA configuration: SCI_INFER_CUDA_ARCH=$ARCH is not AMPERE80 or HOPPER90 ***"; exit 1 ;;
esac
NVCC=$(command -v nvcc || true)
[ -n "$NVCC" ] || { [ -x /usr/local/cuda/bin/nvcc ] && NVCC=/usr/local/cuda/bin/nvcc; }
if [ -z "$NVCC" ]; then
  if [ "${CI:-}" = true ]; then
    echo "[test] *** CUDA configuration FAILED: no nvcc (on PATH or /usr/local/cuda/bin) and CI=true ***" \
      | tee -a "${SECOND_CONFIG_SKIP_FILE:-/dev/null}"
    exit 1
  fi
  skip "no nvcc on PATH or in /usr/local/cuda/bin"
fi
[ -f "$KOKKOS_SRC/build-kokkos.sh" ] || skip "no Kokkos source at $KOKKOS_SRC (set SCI_INFER_KOKKOS_SRC)"
PATH="$(dirname "$NVCC"):$PATH"
export PATH
export CUDACXX="$NVCC"
PREFIX=${SCI_INFER_CACHE:-$HOME/.cache/sci_infer}/kokkos-4.6.01-cuda-$ARCH
CUDA_BUILD=${CUDA_BUILD_DIR:-build-cuda-$ARCH}
t0=$(date +%s)
echo "[test] CUDA configuration: Kokkos CUDA $ARCH ($PREFIX), -DSCI_INFER_CUDA=ON, compile only, in $CUDA_BUILD"
bash "$KOKKOS_SRC/build-kokkos.sh" cuda "$PREFIX" "$ARCH"
t1=$(date +%s)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache
                                          -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
# nvcc_wrapper as the C++ compiler, as Kokkos requires for its CUDA backend; the host parts are
# built for the baseline ISA (the GPU does the work; a generic binary runs on any login node).
mkdir -p "$CUDA_BUILD"
# Without a GPU driver there is no libcuda.so.1: Kokkos links the toolkit's stub libcuda.so, but
# executables linking our shared libraries (which record libcuda.so.1) need it found at link time
# too. -rpath-link to the stub under that name is for linking only: nothing is embedded, and on a
# GPU machine the driver's libcuda.so.1 is loaded.
link_flags=()
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
  stub=$(readlink -f "$(dirname "$NVCC")/../lib64/stubs/libcuda.so" || true)
  if [ -f "$stub" ]; then
    mkdir -p "$CUDA_BUILD/cuda-stubs"
    ln -sf "$stub" "$CUDA_BUILD/cuda-stubs/libcuda.so.1"
    link_flags=(-DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$PWD/$CUDA_BUILD/cuda-stubs"
                -DCMAKE_SHARED_LINKER_FLAGS="-Wl,-rpath-link,$PWD/$CUDA_BUILD/cuda-stubs")
  fi
fi
cmake -S . -B "$CUDA_BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DKokkos_ROOT="$PREFIX" -DCMAKE_CXX_COMPILER="$PREFIX/bin/nvcc_wrapper" -DSCI_INFER_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$SM" -DSCI_INFER_NATIVE=OFF "${launcher[@]}" "${link_flags[@]}" \
  >"$CUDA_BUILD/sci_infer_configure.log" 2>&1 \
  || { tail -30 "$CUDA_BUILD/sci_infer_configure.log"; echo "[test] *** CUDA configuration: configure FAILED ***"; exit 1; }
rc=0
# SCI_INFER_CUDA_TARGETS: only these targets (benchmarks/device_prepare.sh needs sci-infer alone).
# The default keeps CI's time in bounds: the tests, benchmarks and Fortran module hold no device
# kernels of their own, and each nvcc_wrapper object costs ~20-45 s on 2 cores.
CUDA_TARGETS=${SCI_INFER_CUDA_TARGETS:-sci_infer sci_infer_c sci-infer}
[ "$CUDA_TARGETS" = all ] && CUDA_TARGETS=
targets=()
for t in $CUDA_TARGETS; do targets+=(--target "$t"); done
cmake --build "$CUDA_BUILD" -j"$(nproc)" "${targets[@]}" >"$CUDA_BUILD/sci_infer_build.log" 2>&1 || rc=$?
t2=$(date +%s)
if [ $rc != 0 ]; then
  grep -n -B2 -A6 -m20 -E 'error|Error' "$CUDA_BUILD/sci_infer_build.log" | head -120
  echo "[test] *** CUDA configuration: build FAILED (full log: $CUDA_BUILD/sci_infer_build.log) ***"
  exit 1
fi
echo "[test] CUDA configuration: compiled ${CUDA_TARGETS:-every target} (Kokkos $((t1 - t0)) s, sci_infer $((t2 - t1)) s); nothing run (no GPU)"
