#!/usr/bin/env bash
# tp 1 and tp 2 give the same bits on a K-quant model made by llama.cpp's llama-quantize (Q4_K_M:
# Q4_K and Q6_K weights, fused Q|K|V of mixed types, 256-value blocks so 2 K-chunks of 256).
#   tp_kquant.sh SCI_INFER TP_LAYOUT_CHECK MPIEXEC WORKDIR     (LLAMA_QUANTIZE from peer_gate.sh)
set -euo pipefail
sci=$1 check=$2 mpiexec=$3 work=$4
mkdir -p "$work"
f32=$work/tp_kquant_f32.gguf q=$work/tp_kquant_Q4_K_M.gguf
"$sci" make-model --preset tiny --dim 512 --heads 8 --kv-heads 2 --ffn 1024 --layers 2 --dtype f32 \
  --seed 7 --untied --out "$f32" >/dev/null
"$LLAMA_QUANTIZE" "$f32" "$q" Q4_K_M >"$work/tp_kquant_quantize.log" 2>&1 ||
  { cat "$work/tp_kquant_quantize.log"; exit 1; }
grep -E "q6_K|Q6_K" "$work/tp_kquant_quantize.log" | head -3 || true
"$mpiexec" -n 2 "$check" "$q" 2
# A K-quant model whose attention width (256) is one 256-value block: only one fixed K-chunk, so
# tp 2 must be refused with a message naming the widths.
small=$work/tp_kquant_small_f32.gguf smallq=$work/tp_kquant_small_Q4_K_M.gguf
"$sci" make-model --preset tiny --dim 256 --heads 4 --kv-heads 2 --ffn 512 --layers 1 --dtype f32 \
  --seed 7 --untied --out "$small" >/dev/null
"$LLAMA_QUANTIZE" "$small" "$smallq" Q4_K_M >/dev/null 2>&1
if out=$("$mpiexec" -n 2 "$check" "$smallq" 2 2>&1); then
  echo "FAIL: tp 2 on a model with one 256-value K-chunk was not refused"; exit 1
fi
grep -q "1 fixed K-chunks of whole 256-value blocks (attention width 256, FFN width 512)" <<<"$out" ||
  { echo "FAIL: refusal without the widths:"; echo "$out" | tail -5; exit 1; }
echo "PASS: tp 2 refused: $(grep -o "[^:]*fixed K-chunks of whole 256-value blocks[^)]*)[^\"]*" <<<"$out" | head -1)"
