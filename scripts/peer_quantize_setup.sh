#!/usr/bin/env bash
# peer_quantize_setup.sh: makes llama.cpp's `llama-quantize` from the peer's source (CPU only,
# no CURL), into a cache keyed by the source commit, and prints the binary's path.
#
# The K-quant test models (Q4_K_M, Q5_K_M, Q6_K) must come from llama.cpp's own quantizer, the
# tool users make their files with; gguf-py can quantize only the simple types.
#   PEER_DIR        the peer (default /tmp/peer): source in $PEER_DIR/llama.cpp
#   SCI_INFER_CACHE cache root (default ~/.cache/sci_infer); the tool lands in
#                   $SCI_INFER_CACHE/llama-quantize-<commit>/bin/llama-quantize
#   JOBS            parallel compile jobs of the cmake build (default 2)
#   SCI_INFER_LLAMA_QUANTIZE_BUILD  "auto" (default), "prebuilt" or "cmake":
#     prebuilt: compiles only the tool's own two files (tools/quantize/{quantize,main}.cpp) and
#               links them to the peer's prebuilt libllama / libllama-common / libggml of the same
#               release (node-llama-cpp's linux-x64 package, from the bundle this source came
#               from): the quantization itself is llama_model_quantize in libllama. Seconds.
#     cmake:    builds the llama-quantize target (and what it links) from source: tens of
#               minutes on two cores.
#     auto:     prebuilt when those libraries are there, else cmake.
# Exit 0 with the path on stdout; exit 1 with the reason on stderr if it cannot be made
# (tests turn that into a loud skip, or a failure under CI=true: see test/peer/peer_gate.sh).
set -euo pipefail
PEER_DIR=${PEER_DIR:-/tmp/peer}
src=$PEER_DIR/llama.cpp
cache=${SCI_INFER_CACHE:-$HOME/.cache/sci_infer}
jobs=${JOBS:-2}
how=${SCI_INFER_LLAMA_QUANTIZE_BUILD:-auto}
libs=$PEER_DIR/npm/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
info=$PEER_DIR/npm/node_modules/node-llama-cpp/llama/llama.cpp.info.json

die() { echo "peer_quantize_setup: $*" >&2; exit 1; }
# It runs (its libraries load) and prints its usage (--help exits non-zero).
usable() {
  [ -x "$1" ] || return 1
  local out
  out=$("$1" --help 2>&1 || true)
  grep -q "^usage: .*llama-quantize" <<<"$out"
}
[ -f "$src/CMakeLists.txt" ] || die "no llama.cpp source at $src"
commit=$(git -C "$src" rev-parse HEAD 2>/dev/null || sha256sum "$src/CMakeLists.txt" | cut -c1-40)
prefix=$cache/llama-quantize-$commit
bin=$prefix/bin/llama-quantize
if usable "$bin"; then echo "$bin"; exit 0; fi

mkdir -p "$prefix/bin"
# One maker at a time (several tests may ask at once); the others wait for its result.
exec 9>"$cache/.llama-quantize-$commit.lock"
flock 9
if usable "$bin"; then echo "$bin"; exit 0; fi
log=$prefix.log

prebuilt() {
  local tag
  tag=$(sed -n 's/.*"tag": *"\([^"]*\)".*/\1/p' "$info" 2>/dev/null)
  local so=$libs/libllama.$tag.so ggml=$libs/libggml.$tag.so
  [ -n "$tag" ] && [ -f "$so" ] && [ -f "$ggml" ] && [ -f "$libs/libllama-common.so" ] && [ -f "$libs/libggml-base.so" ] ||
    { echo "no prebuilt llama.cpp libraries under $libs" >>"$log"; return 1; }
  ${CXX:-c++} -std=c++17 -O1 -I"$src/include" -I"$src/ggml/include" -I"$src/common" -I"$src/tools/quantize" \
    -I"$src/vendor" "$src/tools/quantize/quantize.cpp" "$src/tools/quantize/main.cpp" -o "$bin.tmp" \
    -L"$libs" -l:"libllama.$tag.so" -l:libllama-common.so -l:"libggml.$tag.so" -l:libggml-base.so \
    -Wl,-rpath,"$libs" -pthread >>"$log" 2>&1 && usable "$bin.tmp"
}

from_source() {
  command -v cmake >/dev/null || { echo "cmake not found" >>"$log"; return 1; }
  local build=$prefix.build gen=()
  command -v ninja >/dev/null && gen=(-G Ninja)
  cmake -S "$src" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF \
    -DGGML_OPENMP=OFF -DGGML_CCACHE=OFF >>"$log" 2>&1 &&
    cmake --build "$build" -j"$jobs" --target llama-quantize >>"$log" 2>&1 || return 1
  local found
  found=$(find "$build" -name llama-quantize -type f -perm -u+x | head -1)
  [ -n "$found" ] && cp "$found" "$bin.tmp" && rm -rf "$build"
}

: >"$log"
case "$how" in
  prebuilt) prebuilt || die "could not build against the prebuilt libraries, see $log" ;;
  cmake) from_source || die "cmake build failed, see $log" ;;
  auto) prebuilt || from_source || die "neither way worked, see $log" ;;
  *) die "SCI_INFER_LLAMA_QUANTIZE_BUILD must be auto, prebuilt or cmake (not '$how')" ;;
esac
mv "$bin.tmp" "$bin"
echo "$bin"
