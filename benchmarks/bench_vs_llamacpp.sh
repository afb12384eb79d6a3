#!/bin/bash
# bench_vs_llamacpp.sh - sci_infer vs llama.cpp throughput on the same GGUF files, same machine.
#
#   benchmarks/bench_vs_llamacpp.sh [--presets "15m 100m"] [--dtypes "f32 f16 q8_0"] [--npl 1,8]
#                                   [--threads 2] [--reps 3] [--out DIR] [--no-build] [--no-fa1]
#
# (a) builds sci_infer in Release (build-release/, incremental), (b) makes the test models with
# `sci-infer make-model` (cached in build-release/bench-models), (c) per model, alternating engine
# and peer so that drifts in machine speed hit both: engine B=1, llama-bench, engine B=N...,
# llama-batched-bench, (d) prints the table from benchmarks/summarize.py.
# Raw outputs and summary.json land in --out (default build-release/bench-results/<date>).
# Run it on an otherwise idle machine: llama.cpp's threads spin-wait.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/benchmarks/common.sh"
PY=${SCI_INFER_PYTHON:-/usr/bin/python3}
BUILD=${BUILD_DIR:-$ROOT/build-release}
PEER_DIR=${PEER_DIR:-/tmp/peer}
PEER_BIN=$PEER_DIR/llama.cpp/build/bin
PRESETS="15m 100m" DTYPES="f32 f16 q8_0" NPL=1,8 THREADS=2 REPS=3 PP=128 TG=128
OUT="" BUILD_IT=1 FA="0,1"
while [ $# -gt 0 ]; do
  case "$1" in
    --presets) PRESETS=$2; shift 2 ;;
    --dtypes) DTYPES=$2; shift 2 ;;
    --npl) NPL=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-build) BUILD_IT=0; shift ;;
    --no-fa1) FA=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-$BUILD/bench-results/$(date +%Y%m%d-%H%M%S)}
MODELS=$BUILD/bench-models
mkdir -p "$OUT" "$MODELS"
log() { echo "[bench] $*" >&2; }

# (a) build
if [ "$BUILD_IT" = 1 ]; then
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.log" 2>&1 || log "configure failed (see $OUT/build.log)"
  fi
  cmake --build "$BUILD" -j2 --target sci-infer >>"$OUT/build.log" 2>&1 || log "build failed (see $OUT/build.log)"
fi
SCI=$BUILD/apps/launcher/sci-infer
[ -x "$SCI" ] || log "no sci-infer binary at $SCI: engine columns will be n/a"
[ -x "$PEER_BIN/llama-bench" ] || log "no llama.cpp tools in $PEER_BIN (bash ../shared/peer/setup.sh --native): peer columns n/a"

# Provenance: what ran where.
{
  echo "date: $(date -Is)"
  echo "sci_infer commit: $(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null) $(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo '(dirty)')"
  echo "llama.cpp: $(cd "$PEER_DIR/llama.cpp" 2>/dev/null && git describe --tags --always 2>/dev/null)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), nproc $(nproc)"
  echo "threads $THREADS, pp $PP, tg $TG, npl $NPL, reps $REPS, fa $FA"
} >"$OUT/meta.txt"

# Largest batch decides the context llama-batched-bench needs: B * (pp + tg), plus slack.
MAX_NPL=$(echo "$NPL" | tr ',' '\n' | sort -n | tail -1)
CTX=$(( MAX_NPL * (PP + TG) + 256 ))

engine_bench() {  # model tag batch
  local out="$OUT/$2.engine_b$3.json"
  [ -x "$SCI" ] || return 0
  log "sci-infer bench $2 batch $3"
  "$SCI" bench --model "$1" --prompt-tokens $PP --gen-tokens $TG --batch "$3" --threads $THREADS \
      --reps $REPS --json >"$out" 2>"$OUT/$2.engine_b$3.err" || { log "  sci-infer bench failed (n/a)"; rm -f "$out"; }
}

for preset in $PRESETS; do
  for dtype in $DTYPES; do
    tag=${preset}_${dtype}
    model=$MODELS/$tag.gguf
    # (b) deterministic maker: reuse a model made earlier by the same binary.
    make_bench_model "$SCI" "$preset" "$dtype" "$MODELS" "$OUT" || { log "no model for $tag, skipped"; continue; }

    # (c) alternate engine and peer.
    engine_bench "$model" "$tag" 1
    if [ -x "$PEER_BIN/llama-bench" ]; then
      log "llama-bench $tag"
      "$PEER_BIN/llama-bench" -m "$model" -t $THREADS -p $PP -n $TG -r $REPS -fa $FA -o json \
          >"$OUT/$tag.llama_bench.json" 2>"$OUT/$tag.llama_bench.err" || log "  llama-bench failed"
    fi
    for n in $(echo "$NPL" | tr ',' ' '); do
      [ "$n" = 1 ] || engine_bench "$model" "$tag" "$n"
    done
    if [ -x "$PEER_BIN/llama-batched-bench" ]; then
      log "llama-batched-bench $tag"
      # The trailing extra B=1 run is sacrificial: llama.cpp's logger thread can drop the last
      # lines at exit (llama.cpp issue 22142); summarize.py keeps the first row per B.
      "$PEER_BIN/llama-batched-bench" -m "$model" -t $THREADS -c $CTX -b 2048 -ub 512 -npp $PP -ntg $TG \
          -npl "$NPL,1" -fa off --output-format jsonl \
          >"$OUT/$tag.batched_bench.jsonl" 2>"$OUT/$tag.batched_bench.err" || log "  llama-batched-bench failed"
    fi
  done
done

# (d)
echo "results: $OUT"
cat "$OUT/meta.txt"
echo
"$PY" "$ROOT/benchmarks/summarize.py" "$OUT"
