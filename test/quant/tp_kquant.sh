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
