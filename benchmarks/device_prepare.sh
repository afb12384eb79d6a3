#!/usr/bin/env bash
# device_prepare.sh: everything benchmarks/device_check.sh needs on a GPU machine, made here (where
# there is no GPU), in .device/ (ignored), which the device tool carries (`carry: [".device"]`).
#
#   bash benchmarks/device_prepare.sh [--arch HOPPER90|AMPERE80] [--no-build] [--cpu-bundle]
#
# --cpu-bundle puts the CPU build's sci-infer in the bundle instead: a dry run of device_check.sh
# here (DEVICE_CHECK_STAGES="setup logits invariance run"), which must then pass bit for bit.
#
# 1. builds the CUDA configuration (scripts/test_cuda_config.sh: Kokkos CUDA, -DSCI_INFER_CUDA=ON)
#    and the CPU build (build/, the reference);
# 2. .device/bundle.tar.xz: the CUDA sci-infer, MPICH's mpiexec, and every shared library they
#    need that a bare CUDA machine may lack (not glibc, libstdc++ or the CUDA libraries: the device
#    has newer ones), compressed (libmpich and libdnnl alone are ~80 MB unpacked);
# 3. .device/ref/: the CPU's answers, computed here with the CPU build: all-position logits of
#    the hidden-shape models (the device remakes each model with make-model and checks its
#    SHA-256 first), and a `sci-infer run` input and output;
# 4. .device/llama.tar.xz: the llama.cpp source (../shared/peer, /tmp/peer/llama.cpp) without
#    .git, models, docs and tests: device_check.sh builds llama-batched-bench with CUDA there;
# 5. checks that the working tree plus .device stays under the tool's 64 MiB and prints the call.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ARCH=HOPPER90 BUILD_IT=1 CPU_BUNDLE=0
while [ $# -gt 0 ]; do
  case $1 in
    --arch) ARCH=$2; shift 2 ;;
    --no-build) BUILD_IT=0; shift ;;
    --cpu-bundle) CPU_BUNDLE=1; BUILD_IT=0; shift ;;
    *) echo "usage: $0 [--arch HOPPER90|AMPERE80] [--no-build]" >&2; exit 2 ;;
  esac
done
CUDA_BUILD=${CUDA_BUILD_DIR:-build-cuda-$ARCH}
CPU_BUILD=${BUILD_DIR:-build}
LLAMA_SRC=${LLAMA_SRC:-${PEER_DIR:-/tmp/peer}/llama.cpp}
DEV=$ROOT/.device
PY=${SCI_INFER_PYTHON:-/usr/bin/python3}
log() { echo "[device_prepare] $*" >&2; }

if [ "$BUILD_IT" = 1 ]; then
  SCI_INFER_CUDA_ARCH=$ARCH SCI_INFER_CUDA_TARGETS=sci-infer SECOND_CONFIG_SKIP_FILE=/dev/null \
    bash scripts/test_cuda_config.sh
  [ -f "$CPU_BUILD/CMakeCache.txt" ] || cmake -S . -B "$CPU_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$CPU_BUILD" -j"$(nproc)" --target sci-infer >/dev/null
fi
GPU_SCI=$CUDA_BUILD/apps/launcher/sci-infer
CPU_SCI=$CPU_BUILD/apps/launcher/sci-infer
[ "$CPU_BUNDLE" = 1 ] && GPU_SCI=$CPU_SCI
[ -x "$GPU_SCI" ] || { log "no CUDA sci-infer at $GPU_SCI (build it: scripts/test_cuda_config.sh)"; exit 1; }
[ -x "$CPU_SCI" ] || { log "no CPU sci-infer at $CPU_SCI"; exit 1; }
rm -rf "$DEV"
mkdir -p "$DEV/stage/bin" "$DEV/stage/lib" "$DEV/ref"

# ---- 2. the bundle ----
MPIEXEC=$(readlink -f "$(command -v mpiexec.mpich || command -v mpiexec)")
PROXY=$(dirname "$MPIEXEC")/hydra_pmi_proxy
cp "$GPU_SCI" "$DEV/stage/bin/sci-infer"
cp "$MPIEXEC" "$DEV/stage/bin/mpiexec"
[ -x "$PROXY" ] && cp "$PROXY" "$DEV/stage/bin/"
# The libraries to carry: what ldd resolves outside the C runtime, the compiler runtime and CUDA.
for exe in "$DEV"/stage/bin/*; do
  ldd "$exe" | awk '$3 ~ /^\// {print $3}'
done | sort -u | while read -r lib; do
  case $(basename "$lib") in
    libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libstdc++.so*|libgcc_s.so*) continue ;;
    libcuda.so*|libcudart.so*|libcublas*.so*|libnvidia*) continue ;;
  esac
  case $lib in /usr/local/cuda*) continue ;; esac
  cp -L "$lib" "$DEV/stage/lib/"
done
git rev-parse --short=12 HEAD >"$DEV/stage/commit.txt"
"$GPU_SCI" --version >"$DEV/stage/version.txt" 2>&1 || true
tar -C "$DEV/stage" -cJf "$DEV/bundle.tar.xz" .
rm -rf "$DEV/stage"

# ---- 3. the CPU's answers ----
# The hidden-shape models: dimensions that no test names and that are not multiples of any tile
# (odd head counts, GQA, ffn not a multiple of 64, a vocabulary that is not a multiple of 32),
# in every weight type. Model lines: NAME MAKE-MODEL-OPTIONS (device_check.sh reads this file).
cat >"$DEV/ref/models.txt" <<'EOF'
h1_f32 --dtype f32 --seed 71 --vocab 1003 --dim 96 --layers 3 --heads 3 --kv-heads 1 --ffn 200 --context 256
h2_f16 --dtype f16 --seed 72 --vocab 517 --dim 160 --layers 2 --heads 5 --kv-heads 5 --ffn 416 --context 256
h3_bf16 --dtype bf16 --seed 73 --vocab 2049 --dim 128 --layers 2 --heads 4 --kv-heads 2 --ffn 352 --context 256
h4_q8 --dtype q8_0 --seed 74 --vocab 777 --dim 192 --layers 2 --heads 6 --kv-heads 2 --ffn 544 --context 256
h5_f16_untied --dtype f16 --seed 75 --vocab 300 --dim 64 --layers 4 --heads 2 --kv-heads 1 --ffn 176 --context 256 --untied
EOF
TOKENS="1,17,250,3,99,4,180,42,7,260,11,130,5,77,201,64,33,2,150,9,88,120,6,240,15,70,190,31,8,222,55,101,13"
echo "$TOKENS" >"$DEV/ref/tokens.txt"
while read -r name opts; do
  # shellcheck disable=SC2086
  "$CPU_SCI" make-model $opts --out "/tmp/device_prepare_$name.gguf" >/dev/null
  sha256sum "/tmp/device_prepare_$name.gguf" | cut -d' ' -f1 >"$DEV/ref/$name.sha256"
  "$CPU_SCI" logits -m "/tmp/device_prepare_$name.gguf" --tokens "$TOKENS" --all-positions \
    --out "$DEV/ref/$name.logits.f32" 2>/dev/null
  rm -f "/tmp/device_prepare_$name.gguf"
done <"$DEV/ref/models.txt"
# A `sci-infer run` job: 24 records of generate on the tiny preset (with embedding rows), its
# CPU output; the device reruns it (and with other batch sizes, threads and tp) and compares.
"$CPU_SCI" make-model --preset tiny --seed 3 --context 256 --out /tmp/device_prepare_tiny.gguf >/dev/null
sha256sum /tmp/device_prepare_tiny.gguf | cut -d' ' -f1 >"$DEV/ref/tiny.sha256"
"$PY" - "$DEV/ref/run_input.h5" <<'EOF'
import sys, h5py, numpy as np
n, dim = 24, 64
rng = np.random.default_rng(24)
with h5py.File(sys.argv[1], "w") as f:
    prompts = [" ".join(["alpha", "beta", "gamma", "delta"][: 1 + i % 4]) * (1 + i % 7) for i in range(n)]
    f.create_dataset("prompts", data=prompts, dtype=h5py.string_dtype("utf-8"))
    f["embeddings"] = (rng.standard_normal((n, 3, dim)) * 0.5).astype(np.float32)
    f["embedding_lengths"] = (np.arange(n) % 4).astype(np.int32)
    f["seeds"] = np.arange(n, dtype=np.uint64) + 11
EOF
RUN_OPTS="--max-new-tokens 12 --temperature 0.8 --top-p 0.9"
echo "$RUN_OPTS" >"$DEV/ref/run_opts.txt"
# shellcheck disable=SC2086
"$CPU_SCI" run -m /tmp/device_prepare_tiny.gguf -i "$DEV/ref/run_input.h5" -o "$DEV/ref/run_cpu.h5" $RUN_OPTS \
  --progress-seconds 3600 >/dev/null
rm -rf /tmp/device_prepare_tiny.gguf "$DEV/ref/run_cpu.h5.journal"
"$CPU_SCI" --version >"$DEV/ref/cpu_version.txt"

# ---- 4. the llama.cpp source ----
if [ -f "$LLAMA_SRC/CMakeLists.txt" ]; then
  tar -C "$LLAMA_SRC" -cJf "$DEV/llama.tar.xz" --exclude=.git --exclude=./models --exclude=./docs --exclude=./media \
    --exclude=./gguf-py --exclude=./tests --exclude=./build --exclude=./examples --exclude=./pocs --exclude=./app \
    --exclude=./benches --exclude=./ci --exclude=./tools/server/public --exclude='*.gguf' .
  (cd "$LLAMA_SRC" && git describe --tags --always 2>/dev/null || echo unknown) >"$DEV/llama_version.txt"
else
  log "no llama.cpp source at $LLAMA_SRC (bash ../shared/peer/setup.sh): the device check will skip llama.cpp"
fi

# ---- 5. the size limit ----
tree_bytes=$(git ls-files -co --exclude-standard -z | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
dev_bytes=$(du -sb "$DEV" | cut -f1)
total=$((tree_bytes + dev_bytes))
log "working tree $((tree_bytes / 1048576)) MiB + .device $((dev_bytes / 1048576)) MiB = $((total / 1048576)) MiB (limit 64 MiB)"
ls -la "$DEV" "$DEV/ref" >&2
if [ "$total" -ge $((64 * 1048576)) ]; then
  log "*** over the device tool's 64 MiB: nothing would travel ***"
  exit 1
fi
cat <<EOF

Ready. On the device (one call, ~10 minutes; the script keeps its own time limits):
  run(command="bash benchmarks/device_check.sh", carry=[".device"], timeout_s=600)
Then copy the files it returns (summary.txt, *.json, *.log) into benchmarks/results/.
EOF
