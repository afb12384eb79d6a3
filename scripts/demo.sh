#!/usr/bin/env bash
# The main job on a bundled default: builds sci_infer, writes an example input of English openings
# (examples/train_demo_model/openings.txt, repeated with a different seed per record), runs
# `sci-infer run` under mpiexec -n 2 on the bundled trained model (a 2 M-parameter Llama trained on
# the King James Bible, examples/train_demo_model/README.md), checks the result bit for bit with
# `sci-infer verify`, says where the results went and prints three of the generated texts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
BIN=${BUILD_DIR:-build}/apps/launcher/sci-infer
OUT=${DEMO_DIR:-results/demo}
MODEL=${DEMO_MODEL:-examples/train_demo_model/demo-model-f16.gguf}
mkdir -p "$OUT"
"$BIN" inspect "$MODEL" | tail -n 1
/usr/bin/python3 examples/make_example_input.py "$OUT/input.h5" --records 120 \
  --prompts-file examples/train_demo_model/openings.txt --max-new-tokens 48
MPIEXEC=$(command -v mpiexec.mpich || command -v mpiexec)
# temperature 0.7 / top-k 40: readable text from a small model (greedy text loops, 1.0 rambles).
"$MPIEXEC" -n 2 "$BIN" run --model "$MODEL" --input "$OUT/input.h5" --output "$OUT/output.h5" \
  --overwrite --task generate --seed 42 --temperature 0.7 --top-k 40 --progress-seconds 5
"$BIN" verify "$OUT/output.h5" --sample 8 | tail -n 1
echo "Results: $(realpath "$OUT/output.h5")  (datasets /results/{tokens,text,logprobs,finish_reason,status,error})"
/usr/bin/python3 - "$OUT/input.h5" "$OUT/output.h5" <<'EOF'
import sys, textwrap
import h5py
with h5py.File(sys.argv[1], "r") as i, h5py.File(sys.argv[2], "r") as o:
    prompts, texts = i["prompts"][()], o["results/text"][()]
    print("\nThree of the generated texts (prompt + continuation):")
    for r in (0, 1, 4):
        p, t = prompts[r].decode(), texts[r].decode()
        # /results/text drops the leading space of the first generated word (SentencePiece decoding
        # of a sequence start); the openings end on whole words, so put it back before a letter.
        sep = " " if t[:1].isalnum() else ""
        print(textwrap.fill(f"[{r}] {p}{sep}{t}", width=100, subsequent_indent="    "))
EOF
