#!/usr/bin/env bash
# peer_quantize_setup.sh: builds llama.cpp's `llama-quantize` (and nothing else) from the peer's
# source, CPU only, into a cache keyed by the source commit, and prints the binary's path.
#
# The K-quant test models (Q4_K_M, Q5_K_M, Q6_K) must come from llama.cpp's own quantizer, the
# tool users make their files with; gguf-py can quantize only the simple types.
#   PEER_DIR        the peer (default /tmp/peer): source in $PEER_DIR/llama.cpp
#   SCI_INFER_CACHE cache root (default ~/.cache/sci_infer); the build lands in
#                   $SCI_INFER_CACHE/llama-quantize-<commit>/bin/llama-quantize
#   JOBS            parallel compile jobs (default 2)
# Exit 0 with the path on stdout; exit 1 with the reason on stderr if it cannot be built
# (tests turn that into a loud skip, or a failure under CI=true: see test/peer/peer_gate.sh).
set -euo pipefail
PEER_DIR=${PEER_DIR:-/tmp/peer}
src=$PEER_DIR/llama.cpp
cache=${SCI_INFER_CACHE:-$HOME/.cache/sci_infer}
jobs=${JOBS:-2}

[ -f "$src/CMakeLists.txt" ] || { echo "peer_quantize_setup: no llama.cpp source at $src" >&2; exit 1; }
command -v cmake >/dev/null || { echo "peer_quantize_setup: cmake not found" >&2; exit 1; }
commit=$(git -C "$src" rev-parse HEAD 2>/dev/null || sha256sum "$src/CMakeLists.txt" | cut -c1-40)
prefix=$cache/llama-quantize-$commit
bin=$prefix/bin/llama-quantize
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

mkdir -p "$cache"
# One builder at a time (several tests may ask at once); the others wait for its result.
exec 9>"$cache/.llama-quantize-$commit.lock"
flock 9
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

build=$prefix.build
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
log=$prefix.log
mkdir -p "$prefix/bin"
{
  cmake -S "$src" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF \
    -DGGML_OPENMP=OFF -DGGML_CCACHE=OFF &&
  cmake --build "$build" -j"$jobs" --target llama-quantize
} >"$log" 2>&1 || { echo "peer_quantize_setup: build failed, see $log" >&2; tail -20 "$log" >&2; exit 1; }
found=$(find "$build" -name llama-quantize -type f -perm -u+x | head -1)
[ -n "$found" ] || { echo "peer_quantize_setup: built, but no llama-quantize binary in $build" >&2; exit 1; }
cp "$found" "$bin.tmp" && mv "$bin.tmp" "$bin"
rm -rf "$build"
echo "$bin"
