#!/bin/bash
# bench_targets.sh - every performance target of issue 5, sci_infer vs llama.cpp, one command.
#
#   benchmarks/bench_targets.sh [--dtypes "f32 f16 q8_0"] [--records 1000] [--reps 3] [--quick]
#                               [--no-build] [--out DIR] [--preset 100m] [--threads 2]
#                               [--npl 8,32,64] [--long-prompt 1024] [--fast-gemm onednn|none]
#                               [--stream-mib 1024] [--peer-fa "off on"]
#
# Per dtype, on the same GGUF file (`sci-infer make-model --preset 100m --dtype D --seed 1`,
# cached in build-release/bench-models/) and with the same thread count on both sides:
#   1 offline job: `sci-infer run` on --records records of 128 random prompt tokens + 128 greedy
#     generated tokens (--ignore-eos), (prompt + generated) tokens / whole-process wall seconds
#     (model load and output included) vs the best total S of llama-batched-bench over --npl.
#   2 B=1 decode: `sci-infer bench --batch 1` decode tok/s vs llama-bench tg128; and bandwidth
#     efficiency: (weight + KV bytes read per token) / time per token / stream_read GB/s.
#   3 B=1 prefill of 128 and --long-prompt tokens vs llama-bench pp, best of flash attention off/on.
#   4 peak RSS (/usr/bin/time %M) of the B=1 --long-prompt prefill runs on both sides.
#   5 the price of determinism: the same sci_infer runs (1-3) with --gemm onednn vs the default.
# Each measurement is repeated --reps times as separate processes, alternating sci_infer and
# llama.cpp (engine default, peer, engine fast GEMM), and the median is reported.
# --quick: smoke run (15m preset, 16 records, 1 rep, npl 8,16, long prompt 512, 256 MiB stream);
# options given with it override those settings, wherever they stand on the command line.
# Raw outputs, meta.json and summary.json land in --out (default
# build-release/bench-results/targets-<date>); benchmarks/summarize_targets.py DIR re-prints it.
# Run it on an otherwise idle machine: llama.cpp's threads spin-wait, and sci_infer's default GEMM
# slows down many-fold when another process takes its cores; the summary warns about such runs.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/benchmarks/common.sh"
PY=${SCI_INFER_PYTHON:-/usr/bin/python3}
BUILD=${BUILD_DIR:-$ROOT/build-release}
PEER_DIR=${PEER_DIR:-/tmp/peer}
PEER_BIN=$PEER_DIR/llama.cpp/build/bin
PRESET=100m DTYPES="f32 f16 q8_0" RECORDS=1000 REPS=3 THREADS=2 PP=128 TG=128 NPL=8,32,64
LONG=1024 FAST_GEMM=onednn STREAM_MIB=1024 STREAM_PASSES=10 PEER_FA="off on"
OUT="" BUILD_IT=1 QUICK=0
for a in "$@"; do
  [ "$a" = --quick ] && { QUICK=1; PRESET=15m RECORDS=16 REPS=1 NPL=8,16 LONG=512 STREAM_MIB=256 STREAM_PASSES=5; }
done
while [ $# -gt 0 ]; do
  case "$1" in
    --dtypes) DTYPES=$2; shift 2 ;;
    --records) RECORDS=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --preset) PRESET=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --npl) NPL=$2; shift 2 ;;
    --long-prompt) LONG=$2; shift 2 ;;
    --fast-gemm) FAST_GEMM=$2; shift 2 ;;
    --stream-mib) STREAM_MIB=$2; shift 2 ;;
    --peer-fa) PEER_FA=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-build) BUILD_IT=0; shift ;;
    --quick) shift ;;
    -h|--help) sed -n '2,/^set /p' "$0" | grep '^#'; exit 0 ;;
    *) echo "unknown option $1 (--help)" >&2; exit 2 ;;
  esac
done
[ "$FAST_GEMM" = none ] && FAST_GEMM=""
OUT=${OUT:-$BUILD/bench-results/targets-$(date +%Y%m%d-%H%M%S)}
MODELS=$BUILD/bench-models
WORK=$OUT/work
mkdir -p "$OUT" "$MODELS" "$WORK"
log() { echo "[targets $(date +%H:%M:%S)] $*" >&2; }

# ---- build: sci-infer (Release) and the stream-read benchmark -------------------------------
if [ "$BUILD_IT" = 1 ]; then
  log "building sci-infer in $BUILD (log: $OUT/build.log)"
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.log" 2>&1 || log "configure failed (see $OUT/build.log)"
  fi
  cmake --build "$BUILD" -j"${BUILD_JOBS:-$(nproc)}" --target sci-infer >>"$OUT/build.log" 2>&1 || log "build failed (see $OUT/build.log)"
fi
SCI=$BUILD/apps/launcher/sci-infer
STREAM=$BUILD/bench-tools/stream_read
if [ ! -x "$STREAM" ] || [ "$ROOT/benchmarks/stream_read.cpp" -nt "$STREAM" ]; then
  mkdir -p "$(dirname "$STREAM")"
  log "compiling stream_read"
  ${CXX:-g++} -O3 -march=native -fopenmp-simd -pthread "$ROOT/benchmarks/stream_read.cpp" -o "$STREAM" \
      2>>"$OUT/build.log" || log "stream_read failed to compile (see $OUT/build.log): bandwidth rows n/a"
fi
[ -x "$SCI" ] || log "no sci-infer binary at $SCI: sci_infer columns will be n/a"
HAVE_PEER=1
[ -x "$PEER_BIN/llama-bench" ] && [ -x "$PEER_BIN/llama-batched-bench" ] \
  || { HAVE_PEER=0; log "no llama.cpp tools in $PEER_BIN (bash ../shared/peer/setup.sh --native): llama.cpp columns n/a"; }

# ---- the machine and the settings ------------------------------------------------------------
"$PY" - "$OUT/meta.json" <<PY
import json, os, platform, subprocess, sys
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception:
        return ""
mem_kb = int(sh("awk '/MemTotal/ {print \$2}' /proc/meminfo") or 0)
meta = {
    "date": sh("date -Is"),
    "cpu": sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1"),
    "nproc": int(sh("nproc") or 0),
    "threads_per_core": sh("lscpu | sed -n 's/^Thread(s) per core:[[:space:]]*//p' | head -1"),
    "memory_gib": round(mem_kb / 1048576, 1),
    "kernel": platform.release(),
    "load_avg_start": sh("cut -d' ' -f1-3 /proc/loadavg"),
    "sci_infer_commit": sh("git -C '$ROOT' rev-parse --short=12 HEAD") + (" (dirty)" if sh("git -C '$ROOT' status --porcelain") else ""),
    "sci_infer_binary": "$SCI",
    "llama_cpp": sh("'$PEER_BIN/llama-bench' --version 2>&1 | grep -m1 version") or "n/a",
    "compiler": sh("${CXX:-g++} --version | head -1"),
    "settings": {"preset": "$PRESET", "dtypes": "$DTYPES".split(), "records": $RECORDS, "reps": $REPS,
                 "threads": $THREADS, "prompt_tokens": $PP, "gen_tokens": $TG, "npl": "$NPL",
                 "long_prompt": $LONG, "fast_gemm": "$FAST_GEMM" or None, "stream_mib": $STREAM_MIB,
                 "peer_fa": "$PEER_FA".split(), "quick": bool($QUICK)},
}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
PY

# ---- helpers ---------------------------------------------------------------------------------
# timed NAME CMD...: runs CMD with stdout to NAME, stderr to NAME.err; /usr/bin/time writes
# "peak-RSS-KiB elapsed-s user-s sys-s" to NAME.time, and NAME.load gets the machine's busy CPU
# seconds (/proc/stat user+nice+system+irq+softirq+steal) over the run: what the command did
# not use itself was someone else's load (the summary flags runs where that exceeds 5%).
# The exact command line goes to commands.txt.
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
busy_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
timed() {
  local name=$1; shift
  echo "$(basename "$name"): $*" >>"$OUT/commands.txt"
  local b0; b0=$(busy_jiffies)
  /usr/bin/time -o "$name.time" -f "%M %e %U %S" "$@" >"$name" 2>"$name.err"
  local rc=$?
  echo "$(( $(busy_jiffies) - b0 )) $CLK_TCK $(nproc)" >"$name.load"
  [ $rc = 0 ] || log "  failed (rc $rc): $* (see $name.err)"
  return $rc
}

sci_job() {  # tag model rep gemm
  local base=$OUT/$1.r$3.job.$4 out=$WORK/$1.job.$4.h5
  [ -x "$SCI" ] || return 0
  log "$1 rep $3: sci-infer run, $RECORDS records, --gemm $4"
  # Wall time around the whole process: MPI start-up, model load, the job, the final output.
  local t0=$EPOCHREALTIME
  timed "$base.log" "$SCI" run -m "$2" -i "$INPUT" -o "$out" --overwrite --threads $THREADS --gemm "$4" \
      --max-new-tokens $TG --ignore-eos --temperature 0 --progress-seconds 60
  local rc=$? t1=$EPOCHREALTIME
  [ $rc = 0 ] && "$PY" "$ROOT/benchmarks/summarize_targets.py" job-stats --input "$INPUT" --output "$out" \
      --t0 "$t0" --t1 "$t1" --time-file "$base.log.time" --gemm "$4" >"$base.json"
  rm -rf "$out" "$out.journal"
}

sci_bench() {  # tag model rep gemm prompt gen label
  local base=$OUT/$1.r$3.$7.$4
  [ -x "$SCI" ] || return 0
  log "$1 rep $3: sci-infer bench --batch 1 --prompt-tokens $5 --gen-tokens $6 --gemm $4"
  timed "$base.json" "$SCI" bench -m "$2" --batch 1 --prompt-tokens "$5" --gen-tokens "$6" --threads $THREADS \
      --gemm "$4" --reps 1 --json || rm -f "$base.json"
}

# ---- run --------------------------------------------------------------------------------------
MAX_NPL=$(echo "$NPL" | tr ',' '\n' | sort -n | tail -1)
CTX=$(( MAX_NPL * (PP + TG) + 256 ))
INPUT=""
for dtype in $DTYPES; do
  tag=${PRESET}_${dtype}
  model=$MODELS/$tag.gguf
  make_bench_model "$SCI" "$PRESET" "$dtype" "$MODELS" "$OUT" || { log "no model for $tag, skipped"; continue; }

  # Model facts for the bandwidth and context arithmetic (untimed).
  [ -x "$SCI" ] && "$SCI" inspect "$model" --tensors >"$OUT/$tag.inspect.txt" 2>&1
  [ -x "$SCI" ] && "$SCI" generate -m "$model" --tokens 1,2,3 -n 2 --threads $THREADS >/dev/null 2>"$OUT/$tag.weights.txt"
  ctx_train=$(sed -n 's/.*context \([0-9]*\),.*/\1/p' "$OUT/$tag.inspect.txt" | head -1)
  vocab=$(sed -n 's/.*vocab \([0-9]*\),.*/\1/p' "$OUT/$tag.inspect.txt" | head -1)
  long=$LONG
  if [ -n "$ctx_train" ] && [ "$long" -ge "$ctx_train" ]; then long=$((ctx_train - 1)); log "long prompt reduced to fit the context: $long"; fi
  echo "$long" >"$OUT/$tag.long_prompt"
  # The job's input: the same random prompts for every dtype of a preset.
  if [ -n "$vocab" ] && [ -z "$INPUT" ]; then
    INPUT=$WORK/input-$PRESET-$RECORDS.h5
    "$PY" "$ROOT/benchmarks/summarize_targets.py" make-input "$INPUT" --records "$RECORDS" \
        --prompt-tokens $PP --vocab "$vocab" --seed 1 >&2 || { log "cannot make the input"; INPUT=""; }
  fi

  for rep in $(seq 1 "$REPS"); do
    # 1: offline batch job vs llama-batched-bench (best S over npl and flash attention).
    [ -n "$INPUT" ] && sci_job "$tag" "$model" "$rep" fixed
    if [ $HAVE_PEER = 1 ]; then
      for fa in $PEER_FA; do
        log "$tag rep $rep: llama-batched-bench -npl $NPL -fa $fa"
        # The trailing B=1 run is sacrificial: llama.cpp's logger thread can drop the last lines
        # at exit (llama.cpp issue 22142); the summary ignores B=1.
        timed "$OUT/$tag.r$rep.batched.fa$fa.jsonl" "$PEER_BIN/llama-batched-bench" -m "$model" -t $THREADS -c $CTX \
            -b 2048 -ub 512 -npp $PP -ntg $TG -npl "$NPL,1" -fa "$fa" --output-format jsonl
      done
    fi
    [ -n "$INPUT" ] && [ -n "$FAST_GEMM" ] && sci_job "$tag" "$model" "$rep" "$FAST_GEMM"

    # 2 + 3 (128): B=1 prefill 128 then decode 128 vs llama-bench pp128 / tg128.
    sci_bench "$tag" "$model" "$rep" fixed $PP $TG b1
    if [ $HAVE_PEER = 1 ]; then
      log "$tag rep $rep: llama-bench -p $PP -n $TG -fa 0,1"
      timed "$OUT/$tag.r$rep.lb.json" "$PEER_BIN/llama-bench" -m "$model" -t $THREADS -p $PP -n $TG -r 1 -fa 0,1 -o json
    fi
    [ -n "$FAST_GEMM" ] && sci_bench "$tag" "$model" "$rep" "$FAST_GEMM" $PP $TG b1
    if [ -x "$STREAM" ]; then
      log "$tag rep $rep: stream_read ${STREAM_MIB} MiB, $THREADS threads"
      timed "$OUT/$tag.r$rep.stream.json" "$STREAM" --threads $THREADS --mib "$STREAM_MIB" --passes $STREAM_PASSES --json
    fi

    # 3 (long) + 4: B=1 prefill of the long prompt alone; these runs' peak RSS is target 4.
    sci_bench "$tag" "$model" "$rep" fixed "$long" 0 long
    if [ $HAVE_PEER = 1 ]; then
      for fa in 0 1; do
        log "$tag rep $rep: llama-bench -p $long -n 0 -fa $fa"
        timed "$OUT/$tag.r$rep.lb_long.fa$fa.json" "$PEER_BIN/llama-bench" -m "$model" -t $THREADS -p "$long" -n 0 \
            -r 1 -fa $fa -o json
      done
    fi
    [ -n "$FAST_GEMM" ] && sci_bench "$tag" "$model" "$rep" "$FAST_GEMM" "$long" 0 long
  done
done

"$PY" - "$OUT/meta.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["load_avg_end"] = open("/proc/loadavg").read().split()[:3]
m["load_avg_end"] = " ".join(m["load_avg_end"])
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
rm -rf "$WORK"
echo "results: $OUT"
"$PY" "$ROOT/benchmarks/summarize_targets.py" summarize "$OUT"
