#!/usr/bin/env bash
# The launcher's throughput and overhead: a 10,000-record generate job on the ~15M test model,
#   (1) the engine alone on the same records (`sci-infer bench --input`, tokenized up front),
#   (2) `sci-infer run` on 1 rank x 2 threads, (3) `mpiexec -n 2 sci-infer run` 1 thread each,
# printing records/s, generated tokens/s and the overhead of (2) relative to (1).
#   benchmarks/bench_launcher.sh [--records 10000] [--max-new-tokens 16] [--out DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BUILD_DIR:-$ROOT/build}/apps/launcher/sci-infer
RECORDS=10000 NEW=16 OUT=/tmp/sci-infer-bench-launcher
while [ $# -gt 0 ]; do
  case "$1" in
    --records) RECORDS=$2; shift 2 ;;
    --max-new-tokens) NEW=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || (cd "$ROOT" && bash scripts/build.sh)
MPIEXEC=$(command -v mpiexec.mpich || command -v mpiexec)
mkdir -p "$OUT"
MODEL=$OUT/model-15m-f32.gguf
[ -f "$MODEL" ] || "$BIN" make-model --preset 15m --dtype f32 --seed 1 --out "$MODEL" >/dev/null
/usr/bin/python3 - "$OUT/input.h5" "$RECORDS" <<'PY'
import sys, h5py, numpy as np
path, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(1)
words = "the model of the ocean predicts heat flux salinity ice and wind over the basin".split()
prompts = [" ".join(rng.choice(words, size=rng.integers(4, 40))) for _ in range(n)]
with h5py.File(path, "w") as f:
    f.create_dataset("prompts", data=prompts, dtype=h5py.string_dtype("utf-8"), chunks=(min(n, 4096),), compression="gzip")
PY
COMMON=(--max-new-tokens "$NEW" --ignore-eos --max-batch 64)
engine=$("$BIN" bench -m "$MODEL" --input "$OUT/input.h5" --threads 2 --json "${COMMON[@]}")
t0=$(date +%s.%N)
"$BIN" run -m "$MODEL" -i "$OUT/input.h5" -o "$OUT/out1.h5" --overwrite --threads 2 "${COMMON[@]}" --progress-seconds 30 > "$OUT/run1.log"
t1=$(date +%s.%N)
"$MPIEXEC" -n 2 "$BIN" run -m "$MODEL" -i "$OUT/input.h5" -o "$OUT/out2.h5" --overwrite --threads 1 "${COMMON[@]}" --progress-seconds 30 > "$OUT/run2.log"
t2=$(date +%s.%N)
/usr/bin/python3 - "$engine" "$t0" "$t1" "$t2" "$RECORDS" "$OUT" <<'PY'
import json, sys, h5py
eng = json.loads(sys.argv[1]); t0, t1, t2 = map(float, sys.argv[2:5]); n = int(sys.argv[5]); out = sys.argv[6]
def toks(p):
    with h5py.File(p) as f:
        return sum(len(x) for x in f["results/tokens"][()])
tok1, tok2 = toks(out + "/out1.h5"), toks(out + "/out2.h5")
w1, w2 = t1 - t0, t2 - t1
print(f"records: {n}, generated tokens: {eng['generated_tokens']} (engine) {tok1} (run -n 1) {tok2} (run -n 2)")
print(f"{'':32s} {'records/s':>10s} {'gen tok/s':>10s} {'wall s':>8s}")
print(f"{'engine alone (2 threads)':32s} {eng['records_s']:10.2f} {eng['tok_s']:10.1f} {eng['seconds']:8.1f}")
print(f"{'sci-infer run -n 1 x 2 threads':32s} {n / w1:10.2f} {tok1 / w1:10.1f} {w1:8.1f}")
print(f"{'mpiexec -n 2 sci-infer run':32s} {n / w2:10.2f} {tok2 / w2:10.1f} {w2:8.1f}")
print(f"launcher overhead (run -n 1 vs engine alone, whole-process wall time incl. model load and output): "
      f"{100 * (1 - (tok1 / w1) / eng['tok_s']):.1f}%")
PY
