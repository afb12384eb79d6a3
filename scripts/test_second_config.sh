#!/usr/bin/env bash
# The second build configuration of the test suite: Kokkos 4.6 with its OpenMP backend (instead of
# Debian's Serial Kokkos 3.4), compiled for the baseline x86-64-v2 ISA (no AVX-512, no FMA
# instructions) instead of -march=native. Races and host-only assumptions that Serial hides show
# here, and the promise says its bits equal the main build's: this runs the reproducibility subset
# in that build (engine invariance, rank invariance, tp layouts) and compares
# its outputs with the main build's bit for bit (test/cross_build/compare_builds.sh).
# Kokkos is built from ../shared/kokkos (or SCI_INFER_KOKKOS_SRC) into a cached prefix
# (SCI_INFER_CACHE, default ~/.cache/sci_infer): ~4 min once, then reused.
# Then, however this part ends, the CUDA configuration is compiled (scripts/test_cuda_config.sh;
# no GPU needed) and its failure fails this script too.
set -euo pipefail
cd "$(dirname "$0")/.."
run_cuda_config() {
  local rc=$?
  trap - EXIT
  bash scripts/test_cuda_config.sh || rc=1
  exit $rc
}
trap run_cuda_config EXIT
KOKKOS_SRC=${SCI_INFER_KOKKOS_SRC:-../shared/kokkos}
if [ "${SCI_INFER_SECOND_CONFIG:-1}" = 0 ]; then
  echo "[test] *** SKIPPED the second configuration (Kokkos OpenMP, x86-64-v2): SCI_INFER_SECOND_CONFIG=0 ***" \
    | tee -a "${SECOND_CONFIG_SKIP_FILE:-/dev/null}"
  exit 0
fi
if [ ! -f "$KOKKOS_SRC/build-kokkos.sh" ]; then
  # A user's clone has no ../shared: say so loudly (scripts/test.sh repeats it after the summary).
  echo "[test] *** SKIPPED the second configuration (Kokkos OpenMP, x86-64-v2): no Kokkos source at $KOKKOS_SRC (set SCI_INFER_KOKKOS_SRC) ***" \
    | tee -a "${SECOND_CONFIG_SKIP_FILE:-/dev/null}"
  exit 0
fi
PREFIX=${SCI_INFER_CACHE:-$HOME/.cache/sci_infer}/kokkos-4.6.01-openmp
MAIN=${BUILD_DIR:-build} OMP_BUILD=${OMP_BUILD_DIR:-build-omp}
echo "[test] second configuration: Kokkos OpenMP ($PREFIX), -march=x86-64-v2, in $OMP_BUILD"
bash "$KOKKOS_SRC/build-kokkos.sh" openmp "$PREFIX"
[ -f "$OMP_BUILD/CMakeCache.txt" ] || cmake -S . -B "$OMP_BUILD" -DCMAKE_BUILD_TYPE=Release -DKokkos_ROOT="$PREFIX" \
  -DSCI_INFER_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=x86-64-v2 >/dev/null
cmake --build "$OMP_BUILD" -j"$(nproc)" --target sci-infer sci_infer_unit tp_layout_check >/dev/null
export OMP_PROC_BIND=false  # Kokkos' OpenMP backend warns without it; binding does not change bits
rc=0
"$OMP_BUILD/test/sci_infer_unit" "[invariance]" || rc=1
# One OpenMP thread per rank for the MPI tests: 4 ranks x Kokkos OpenMP pools on 2 cores made
# launcher_signals (its 1500-record jobs) run past 600 s (measured; the [invariance] tests above
# check 1 vs 2 threads).
(cd "$OMP_BUILD" && OMP_NUM_THREADS=1 ctest --output-on-failure --timeout 600 -j2 \
  -R "^(tp_make_model|tp_layout|launcher_rank_invariance$)") || rc=1
bash test/cross_build/compare_builds.sh "$PWD/$MAIN/apps/launcher/sci-infer" "$PWD/$OMP_BUILD/apps/launcher/sci-infer" \
  "$PWD/$OMP_BUILD/cross_build" || rc=1
if [ $rc = 0 ]; then echo "[test] second configuration: passed"; else echo "[test] *** second configuration: FAILED ***"; fi
exit $rc
