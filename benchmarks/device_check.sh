#!/usr/bin/env bash
# device_check.sh: the ONE GPU session of issue 10, prepared to fit ~10 minutes of a 15-minute
# device budget. Made ready here by benchmarks/device_prepare.sh (.device/, carried), run there:
#
#   run(command="bash benchmarks/device_check.sh", carry=[".device"], timeout_s=600)
#
# Stages (each timed and limited; a failed stage is reported and the next one still runs; stages
# that would start past the overall budget are reported as skipped):
#   setup      unpack the bundle, nvidia-smi, sci-infer --version
#   llama      (background, from the start) llama.cpp with CUDA: llama-batched-bench only
#   logits     hidden-shape models: GPU --gemm fixed logits == CPU logits bit for bit (all
#              positions); --gemm cublas within 1e-3 (max |diff|)
#   invariance GPU run outputs: --max-batch 1 vs 64, -t 1 vs 8, --tp 2 (2 ranks on one GPU) vs 1,
#              bit for bit
#   run        `sci-infer run` on the GPU: every dataset identical to the CPU run's (carried)
#   perf       offline 128+128 job (sci-infer bench) at 64 and 256 sequences, fixed and cublas:
#              100m F32/F16/Q8_0 and a ~1B shape (dim 2048, 16 layers, F16)
#   peer       llama-batched-bench -npp 128 -ntg 128 -npl 64,256 on the same GGUF files (CUDA)
# Writes summary.txt, perf.json and the logs to $OUT; prints the summary at the end.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-/tmp/device_check_out}
DEV=${DEVICE_DIR:-$ROOT/.device}
BUDGET_S=${DEVICE_CHECK_BUDGET_S:-540}   # the whole script; the tool's call limit is 600 s
W=${DEVICE_CHECK_WORK:-/tmp/device_check}
mkdir -p "$OUT" "$W"
T0=$(date +%s)
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
PY=${SCI_INFER_PYTHON:-python3}  # on the GPU machine: the python3 with numpy and h5py
say() { echo "$*" | tee -a "$SUMMARY"; }
elapsed() { echo $(($(date +%s) - T0)); }
left() { echo $((BUDGET_S - $(elapsed))); }
# stage NAME LIMIT_S FUNCTION: runs FUNCTION with a time limit, logs to $OUT/NAME.log, records
# its status and duration; skips it if less than 20 s of the budget are left.
stage() {
  local name=$1 limit=$2 fn=$3
  local l
  l=$(left)
  if [ "$l" -lt 20 ]; then say "[$name] SKIPPED: out of time ($(elapsed) s used of $BUDGET_S)"; return; fi
  [ "$limit" -gt "$l" ] && limit=$l
  local t
  t=$(date +%s)
  timeout --signal=TERM --kill-after=5 "$limit" bash -c "$(declare -f); $fn" >"$OUT/$name.log" 2>&1
  local rc=$?
  local dt=$(($(date +%s) - t))
  if [ $rc = 0 ]; then say "[$name] ok in ${dt} s"
  elif [ $rc = 124 ] || [ $rc = 137 ]; then say "[$name] TIMED OUT after ${dt} s (limit ${limit} s)"
  else say "[$name] FAILED (rc $rc) in ${dt} s: $(grep -m3 -E 'FAIL|error|Error|differ' "$OUT/$name.log" | tr '\n' ' ' | cut -c1-300)"
  fi
  grep '^RESULT ' "$OUT/$name.log" | sed 's/^RESULT /  /' | tee -a "$SUMMARY"
}
export OUT DEV W PY ROOT

# ---- setup ----
setup() {
  set -e
  rm -rf "$W/si" && mkdir -p "$W/si"
  tar -C "$W/si" -xJf "$DEV/bundle.tar.xz"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
  env_si
  "$SCI" --version
  echo "RESULT gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
  echo "RESULT sci-infer: $(head -1 "$W/si/version.txt") / $(sed -n 2p "$W/si/version.txt"), commit $(cat "$W/si/commit.txt")"
}
env_si() {
  export PATH="$W/si/bin:$PATH" LD_LIBRARY_PATH="$W/si/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  export OMP_PROC_BIND=false HYDRA_LAUNCHER=fork
  SCI="$W/si/bin/sci-infer"
}

# ---- llama.cpp, built in the background while the checks run ----
llama_build() {
  set -e
  rm -rf "$W/llama" && mkdir -p "$W/llama"
  tar -C "$W/llama" -xJf "$DEV/llama.tar.xz"
  # Only what llama-batched-bench needs; no FlashAttention kernels (their ~100 template instances
  # take most of the compile time): the peer runs with -fa off.
  cmake -S "$W/llama" -B "$W/llama/build" -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DGGML_CUDA_FA=OFF \
    -DCMAKE_CUDA_ARCHITECTURES=native -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DGGML_CUDA_NCCL=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DBUILD_SHARED_LIBS=OFF
  cmake --build "$W/llama/build" -j"$(($(nproc) - 2))" --target llama-batched-bench
  ls -la "$W/llama/build/bin/llama-batched-bench"
}

# ---- logits: CPU vs GPU on the hidden-shape models ----
logits() {
  env_si
  local tokens fails=0
  tokens=$(cat "$DEV/ref/tokens.txt")
  while read -r name opts; do
    # shellcheck disable=SC2086
    "$SCI" make-model $opts --out "$W/$name.gguf" >/dev/null || { echo "FAIL $name: make-model"; fails=1; continue; }
    if [ "$(sha256sum "$W/$name.gguf" | cut -d' ' -f1)" != "$(cat "$DEV/ref/$name.sha256")" ]; then
      echo "FAIL $name: the model made here differs from the CPU's (SHA-256)"; fails=1; continue
    fi
    for gemm in fixed cublas; do
      "$SCI" logits -m "$W/$name.gguf" --tokens "$tokens" --all-positions --gemm $gemm --out "$W/$name.$gemm.f32" \
        || { echo "FAIL $name $gemm: logits exited $?"; fails=1; continue; }
    done
    $PY - "$DEV/ref/$name.logits.f32" "$W/$name.fixed.f32" "$W/$name.cublas.f32" "$name" <<'EOF' || fails=1
import sys, numpy as np
cpu, fixed, fast, name = sys.argv[1:5]
c = np.fromfile(cpu, np.float32)
ok = True
for path, mode in ((fixed, "fixed"), (fast, "cublas")):
    try:
        g = np.fromfile(path, np.float32)
    except OSError:
        print(f"RESULT {name} {mode}: no output"); ok = False; continue
    if g.shape != c.shape:
        print(f"RESULT {name} {mode}: FAIL shape {g.shape} vs CPU {c.shape}"); ok = False; continue
    diff = float(np.max(np.abs(g.astype(np.float64) - c)))
    same = g.tobytes() == c.tobytes()
    n_diff = int(np.sum(g.view(np.uint32) != c.view(np.uint32)))
    if mode == "fixed":
        verdict = "bitwise equal" if same else f"FAIL: {n_diff} of {c.size} values differ, max |diff| {diff:.3g}"
        ok &= same
    else:
        verdict = ("within 1e-3" if diff <= 1e-3 else "FAIL: beyond 1e-3") + f" (max |diff| {diff:.3g})"
        ok &= diff <= 1e-3
    print(f"RESULT {name} {mode} vs CPU: {verdict}")
sys.exit(0 if ok else 1)
EOF
  done <"$DEV/ref/models.txt"
  return $fails
}

# ---- batch / thread / tp invariance on the GPU, and the run against the CPU's output ----
compare_h5() {  # compare_h5 A B WHAT: every /results dataset bit for bit
  $PY - "$1" "$2" "$3" <<'EOF'
import sys, h5py, numpy as np
a, b, what = sys.argv[1:4]
with h5py.File(a) as fa, h5py.File(b) as fb:
    ra, rb = fa["results"], fb["results"]
    names = sorted(ra)
    bad = []
    if sorted(ra) != sorted(rb):
        bad.append(f"datasets {sorted(ra)} vs {sorted(rb)}")
    for n in sorted(set(ra) & set(rb)):
        x, y = ra[n][()], rb[n][()]
        if x.dtype == object:
            same = len(x) == len(y) and all(np.asarray(u).tobytes() == np.asarray(v).tobytes() for u, v in zip(x, y))
        else:
            same = x.shape == y.shape and x.tobytes() == y.tobytes()
        if not same:
            bad.append(n)
print(f"RESULT {what}: " + ("identical (" + ", ".join(names) + ")" if not bad else "FAIL: differ in " + ", ".join(bad)))
sys.exit(1 if bad else 0)
EOF
}
prepare_tiny() {
  "$SCI" make-model --preset tiny --seed 3 --context 256 --out "$W/tiny.gguf" >/dev/null || return 1
  [ "$(sha256sum "$W/tiny.gguf" | cut -d' ' -f1)" = "$(cat "$DEV/ref/tiny.sha256")" ] \
    || { echo "FAIL: the tiny model made here differs from the CPU's"; return 1; }
}
invariance() {
  env_si
  prepare_tiny || return 1
  local opts fails=0
  opts=$(cat "$DEV/ref/run_opts.txt")
  run_job() {  # run_job OUT RANKS ARGS...
    local o=$1 n=$2; shift 2
    rm -rf "${W:?}/$o" "${W:?}/$o.journal"
    # shellcheck disable=SC2086
    mpiexec -n "$n" "$SCI" run -m "$W/tiny.gguf" -i "$DEV/ref/run_input.h5" -o "$W/$o" $opts --progress-seconds 3600 "$@" \
      >"$W/$o.log" 2>&1 || { echo "FAIL $o: exit $?"; tail -5 "$W/$o.log"; return 1; }
  }
  run_job b64.h5 1 --max-batch 64 -t 8 || fails=1
  run_job b1.h5 1 --max-batch 1 -t 8 || fails=1
  run_job t1.h5 1 --max-batch 64 -t 1 || fails=1
  run_job tp2.h5 2 --max-batch 64 --tp 2 -t 4 || fails=1
  run_job r2.h5 2 --max-batch 7 -t 4 || fails=1
  compare_h5 "$W/b64.h5" "$W/b1.h5" "GPU --max-batch 64 vs 1" || fails=1
  compare_h5 "$W/b64.h5" "$W/t1.h5" "GPU -t 8 vs -t 1" || fails=1
  compare_h5 "$W/b64.h5" "$W/tp2.h5" "GPU --tp 2 (2 ranks, one GPU) vs --tp 1" || fails=1
  compare_h5 "$W/b64.h5" "$W/r2.h5" "GPU 2 data-parallel ranks, --max-batch 7 vs 1 rank" || fails=1
  return $fails
}
run_vs_cpu() {
  env_si
  [ -f "$W/b64.h5" ] || { prepare_tiny && invariance >/dev/null; }
  compare_h5 "$DEV/ref/run_cpu.h5" "$W/b64.h5" "sci-infer run, GPU vs CPU output" || return 1
  $PY - "$W/b64.h5" <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    print("RESULT provenance: sci_infer.kokkos =", f.attrs.get("sci_infer.kokkos"), "| sci_infer.device =", f.attrs.get("sci_infer.device"))
EOF
}

# ---- throughput ----
perf_models() {
  "$SCI" make-model --preset 100m --dtype f32 --seed 1 --out "$W/100m_f32.gguf" >/dev/null &&
  "$SCI" make-model --preset 100m --dtype f16 --seed 1 --out "$W/100m_f16.gguf" >/dev/null &&
  "$SCI" make-model --preset 100m --dtype q8_0 --seed 1 --out "$W/100m_q8_0.gguf" >/dev/null &&
  # ~1B parameters: dim 2048, 16 layers (32 heads, 8 KV heads, ffn 5632), 32000 tokens.
  "$SCI" make-model --preset 100m --dtype f16 --seed 1 --dim 2048 --layers 16 --heads 32 --kv-heads 8 --ffn 5632 \
    --vocab 32000 --context 512 --out "$W/1b_f16.gguf" >/dev/null
}
perf() {
  env_si
  perf_models || { echo "FAIL: make-model"; return 1; }
  : >"$OUT/perf.jsonl"
  local m b g
  for m in 100m_f32 100m_f16 100m_q8_0 1b_f16; do
    for b in 64 256; do
      for g in fixed cublas; do
        # The whole KV of b sequences x 256 positions must fit: 24 GiB covers the 1B shape at 256.
        timeout 60 "$SCI" bench -m "$W/$m.gguf" --prompt-tokens 128 --gen-tokens 128 --batch $b --gemm $g \
          --max-batch $b --kv-cache-mb 24576 --step-tokens 4096 --reps 1 --json >"$W/bench.json" 2>"$W/bench.err"
        local rc=$?
        if [ $rc = 0 ]; then
          sed "s/}\$/, \"name\": \"$m\"}/" "$W/bench.json" >>"$OUT/perf.jsonl"
          echo "RESULT sci-infer $m batch $b $g: $($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.0f tok/s (prefill %.0f, decode %.0f)" % (d["total_tok_s"], d["prefill_tok_s"], d["decode_tok_s"]))' "$W/bench.json")"
        else
          echo "RESULT sci-infer $m batch $b $g: FAILED or timed out (rc $rc): $(tail -1 "$W/bench.err")"
        fi
      done
    done
  done
}
peer() {
  env_si
  local bb="$W/llama/build/bin/llama-batched-bench"
  [ -x "$bb" ] || { echo "RESULT llama.cpp: not built (see llama.log)"; return 1; }
  : >"$OUT/peer.jsonl"
  local m
  for m in 100m_f32 100m_f16 100m_q8_0 1b_f16; do
    [ -f "$W/$m.gguf" ] || continue
    timeout 90 "$bb" -m "$W/$m.gguf" -ngl 99 -c 66560 -b 2048 -ub 512 -npp 128 -ntg 128 -npl 64,256 -fa off \
      --output-format jsonl >"$W/peer_$m.txt" 2>&1 || echo "RESULT llama.cpp $m: FAILED ($(tail -1 "$W/peer_$m.txt"))"
    grep '^{' "$W/peer_$m.txt" | sed "s/}\$/, \"name\": \"$m\"}/" >>"$OUT/peer.jsonl"
  done
  # The figures as a ratio to llama.cpp in the same run (total tokens / total time, like bench).
  $PY - "$OUT/perf.jsonl" "$OUT/peer.jsonl" <<'EOF'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
peer = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
for o in ours:
    p = [q for q in peer if q.get("name") == o["name"] and q.get("pl") == o["batch"]]
    if not p:
        print(f"RESULT {o['name']} batch {o['batch']} {o['gemm']}: {o['total_tok_s']:.0f} tok/s, no llama.cpp figure")
        continue
    ref = p[0]["speed"]  # llama-batched-bench: total tokens (pp + tg of all sequences) / total time
    target = 0.5 if o["gemm"] == "fixed" else 1.0
    r = o["total_tok_s"] / ref
    print(f"RESULT {o['name']} batch {o['batch']} {o['gemm']}: {o['total_tok_s']:.0f} tok/s = {r:.2f} x llama.cpp CUDA "
          f"({ref:.0f} tok/s); target >= {target}: {'met' if r >= target else 'NOT met'}")
f32 = [o for o in ours if o["name"] == "100m_f32" and o["gemm"] == "fixed"]
for o in f32:
    print(f"RESULT 100m F32 fixed batch {o['batch']}: {o['total_tok_s'] / 881:.1f} x the 881 tok/s of before (target >= 30)")
EOF
}

# DEVICE_CHECK_STAGES: a subset, e.g. "setup logits invariance run" (a dry run of the script on a
# CPU-only machine with a bundle of the CPU build: device_prepare.sh --cpu-bundle).
STAGES=" ${DEVICE_CHECK_STAGES:-setup llama logits invariance run perf peer} "
want() { case $STAGES in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
stage setup 60 setup
if [ ! -x "$W/si/bin/sci-infer" ]; then say "no sci-infer: nothing else can run"; cat "$SUMMARY"; exit 1; fi
LLAMA_PID=""
if ! want llama; then
  say "[llama] not asked for (DEVICE_CHECK_STAGES)"
elif [ -f "$DEV/llama.tar.xz" ]; then
  (timeout 420 bash -c "$(declare -f); llama_build" >"$OUT/llama.log" 2>&1; echo "rc $?" >>"$OUT/llama.log") &
  LLAMA_PID=$!
  say "[llama] building in the background (limit 420 s)"
else
  say "[llama] SKIPPED: no .device/llama.tar.xz"
fi
want logits && stage logits 120 logits
want invariance && stage invariance 120 invariance
want run && stage run 60 run_vs_cpu
want perf && stage perf 300 perf
if [ -n "$LLAMA_PID" ]; then
  wait_s=$(left); [ "$wait_s" -gt 0 ] || wait_s=1
  timeout "$wait_s" tail --pid="$LLAMA_PID" -f /dev/null
  say "[llama] build: $(tail -1 "$OUT/llama.log")"
  want peer && stage peer 120 peer
fi
say "total $(elapsed) s"
echo "==================== summary ===================="
cat "$SUMMARY"
