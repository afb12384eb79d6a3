#!/usr/bin/env bash
# Resident memory of a Hugging Face checkpoint directory against the same model converted to
# GGUF by llama.cpp's convert_hf_to_gguf.py: peak RSS (GNU time's %M) of one `sci-infer logits`
# run on each. A GPT-OSS checkpoint by default, the case where the view must repack (MXFP4
# experts): the repack is done when the engine packs each tensor and dropped right after
# (GgufFile derived tensors), so the directory should cost what the GGUF file costs.
#   benchmarks/hf_view_memory.sh [BUILD_DIR] [make_hf_checkpoint.py options...]
# Needs python3-torch, python3-sentencepiece, python3-tqdm and the peer's llama.cpp tree (PEER_DIR).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
shift || true
opts=("$@")
[ ${#opts[@]} -gt 0 ] || opts=(--arch gpt-oss --dtype bf16 --dim 1024 --ffn 1024 --experts 32 --layers 4 --heads 8 --kv-heads 2)
sci=$build/apps/launcher/sci-infer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/../test/hf/make_hf_checkpoint.py" "$work/ckpt" "${opts[@]}" >/dev/null
pre=(); [[ " ${opts[*]} " == *" gpt-oss "* || " ${opts[*]} " == *" qwen"* ]] && pre=(--bpe-pre "$([[ " ${opts[*]} " == *" gpt-oss "* ]] && echo gpt-4o || echo qwen2)")
dtype=f32; [[ " ${opts[*]} " == *" bf16 "* ]] && dtype=bf16
PEER_DIR=${PEER_DIR:-/tmp/peer} /usr/bin/python3 "$here/../test/hf/convert.py" "${pre[@]}" "$work/ckpt" --outtype "$dtype" \
  --outfile "$work/ckpt.gguf" >/dev/null 2>&1
echo "checkpoint: ${opts[*]}; $(du -sm "$work/ckpt" | cut -f1) MB on disk; GGUF $(( $(stat -c %s "$work/ckpt.gguf") / 1048576 )) MB"
for m in ckpt ckpt.gguf; do
  /usr/bin/time -f "%M" -o "$work/$m.rss" "$sci" logits --model "$work/$m" --tokens 1,2,3,4 --threads 2 --out "$work/$m.f32" >/dev/null 2>&1
  rss=$(tail -1 "$work/$m.rss")
  echo "$m: peak RSS $((rss / 1024)) MB"
done
cmp -s "$work/ckpt.f32" "$work/ckpt.gguf.f32" && echo "logits: identical bits" || echo "logits: DIFFER"
