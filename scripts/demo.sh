#!/usr/bin/env bash
# The main job on a bundled default: builds sci_infer, makes the small example model and an
# example input (prompts + embedding vectors), runs `sci-infer run` under mpiexec -n 2, checks
# the result bit for bit with `sci-infer verify`, and says where the results went.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
BIN=${BUILD_DIR:-build}/apps/launcher/sci-infer
OUT=${DEMO_DIR:-results/demo}
mkdir -p "$OUT"
[ -f "$OUT/model-15m-f32.gguf" ] || "$BIN" make-model --preset 15m --dtype f32 --seed 1 --out "$OUT/model-15m-f32.gguf"
DIM=$("$BIN" inspect "$OUT/model-15m-f32.gguf" | sed -n 's/.*dim \([0-9]*\),.*/\1/p')
/usr/bin/python3 examples/make_example_input.py "$OUT/input.h5" --records 200 --d-model "$DIM"
MPIEXEC=$(command -v mpiexec.mpich || command -v mpiexec)
"$MPIEXEC" -n 2 "$BIN" run --model "$OUT/model-15m-f32.gguf" --input "$OUT/input.h5" --output "$OUT/output.h5" \
  --overwrite --task generate --seed 42 --temperature 0.8 --top-k 40 --max-new-tokens 32 --progress-seconds 5
"$BIN" verify "$OUT/output.h5" --sample 8 | tail -n 1
echo "Results: $(realpath "$OUT/output.h5")  (datasets /results/{tokens,text,logprobs,finish_reason,status,error})"
