#!/bin/bash
# bench_tp.sh - tensor-parallel overhead and memory on this machine (issue 4).
#
#   benchmarks/bench_tp.sh [--model M.gguf] [--ranks 4] [--batch 8] [--prompt 64] [--gen 33] [--out DIR]
#
# Runs benchmarks/tp_bench.cpp (target sci_infer_tp_bench) under mpiexec for tp = 1, 2, 4 with
# `ranks` ranks (dp = ranks/tp), deterministic and fast reductions, then tp = 1 without node
# sharing of the weights; and tp = 1/2 on 2 ranks (not oversubscribed on a 2-core machine).
# Prints per configuration: decode-step time, bytes received per token, load time, per-rank
# weights/RSS/PSS and the node's PSS sum. Default model: the 100m F32 preset (made if missing).
# On a 2-core machine 4 ranks are oversubscribed: read tp > 1 as overhead, not speed-up.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
MODEL="" RANKS=4 BATCH=8 PROMPT=64 GEN=33 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL=$2; shift 2 ;;
    --ranks) RANKS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --prompt) PROMPT=$2; shift 2 ;;
    --gen) GEN=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
MPIEXEC=$(command -v mpiexec.mpich || command -v mpiexec)
cmake --build "$BUILD" -j2 --target sci_infer_tp_bench sci-infer >/dev/null
BENCH=$BUILD/benchmarks/sci_infer_tp_bench
if [ -z "$MODEL" ]; then
  MODEL=$BUILD/bench-models/100m_f32.gguf
  [ -f "$MODEL" ] || { mkdir -p "$(dirname "$MODEL")"; "$BUILD/apps/launcher/sci-infer" make-model --preset 100m --dtype f32 --seed 1 --out "$MODEL" >/dev/null; }
fi
OUT=${OUT:-$BUILD/bench-results/tp-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
{
  echo "date: $(date -Is)"
  echo "sci_infer commit: $(git -C "$ROOT" rev-parse --short=12 HEAD)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), nproc $(nproc); $($MPIEXEC --version | grep -m1 Version)"
  echo "model: $MODEL; batch $BATCH per data-parallel group, prompt $PROMPT, $((GEN - 1)) decode steps, 1 thread per rank"
} | tee "$OUT/meta.txt"
run() {  # ranks, label, args...
  local n=$1 label=$2; shift 2
  "$MPIEXEC" -n "$n" "$BENCH" "$MODEL" --batch "$BATCH" --prompt "$PROMPT" --gen "$GEN" --threads 1 "$@" \
    | tee -a "$OUT/runs.jsonl" >/dev/null
}
for tp in 1 2 4; do
  [ $((RANKS % tp)) -eq 0 ] || continue
  run "$RANKS" "tp$tp" --tp "$tp"
  [ "$tp" -gt 1 ] && run "$RANKS" "tp$tp-fast" --tp "$tp" --reduction fast
done
run "$RANKS" "tp1-private" --tp 1 --no-share
run 2 "n2-tp1" --tp 1
run 2 "n2-tp2" --tp 2
run 2 "n2-tp2-fast" --tp 2 --reduction fast
/usr/bin/python3 - "$OUT/runs.jsonl" <<'PY' | tee "$OUT/table.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{'ranks':>5} {'tp':>3} {'dp':>3} {'reduction':>13} {'shared':>6} {'decode step ms':>14} {'KiB recv/token':>14} "
      f"{'load s':>6} {'weights MiB/rank':>16} {'RSS MiB/rank (max)':>18} {'node PSS MiB':>12}")
for d in rows:
    pr = d["per_rank"]
    print(f"{d['ranks']:>5} {d['tp']:>3} {d['dp']:>3} {d['reduction']:>13} {str(d['share']).lower():>6} "
          f"{1000 * d['decode_step_s']:>14.2f} {d['tp_bytes_per_token'] / 1024:>14.1f} {d['load_s']:>6.2f} "
          f"{max(r['weights_mib'] for r in pr):>16.1f} {max(r['rss_mib'] for r in pr):>18.1f} {d['node_pss_mib']:>12.1f}")
PY
echo "raw: $OUT/runs.jsonl"
