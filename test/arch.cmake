# Architectures against llama.cpp (issue 11): logits at EVERY position of a 44-token sequence
# (crossing a 32-position KV page), llama.cpp with an F32 KV cache and flash attention off,
# max |diff| <= 1e-3, on random-weight models of unusual shapes made by `sci-infer make-model`
# (llama.cpp's GGUF conventions) and one written by llama.cpp's own gguf-py.
# test/python/compare_arch_logits.py does the comparison; test/peer/peer_gate.sh skips (77) without
# the peer outside CI and fails under CI=true.
#   ctest -L arch
set(_arch_py ${CMAKE_CURRENT_SOURCE_DIR}/python)
set(_arch_work ${CMAKE_CURRENT_BINARY_DIR}/arch)
file(MAKE_DIRECTORY ${_arch_work})
set(_arch_gate bash ${CMAKE_CURRENT_SOURCE_DIR}/peer/peer_gate.sh ${SCI_INFER_PEER_DIR})

# name, atol, make-model arguments
function(sci_infer_arch_test name atol make)
  add_test(NAME arch_llamacpp_${name}
    COMMAND ${_arch_gate} logits -- ${SCI_INFER_PYTHON} ${_arch_py}/compare_arch_logits.py
            --sci-infer $<TARGET_FILE:sci-infer> --workdir ${_arch_work} --atol ${atol} --make "${make}"
    WORKING_DIRECTORY ${_arch_work})
  set_tests_properties(arch_llamacpp_${name} PROPERTIES LABELS "arch;numerics;peer" TIMEOUT 180 SKIP_RETURN_CODE 77)
endfunction()

# Llama 3.1/3.2 RoPE scaling (rope_freqs.weight): an original context of 32 puts pairs in all three
# regimes (factor 1, smoothed, factor 8) within the sequence; head_dim 20 != dim / heads (key_length).
sci_infer_arch_test(llama31_rope_freqs 1e-3
  "--arch llama --preset tiny --dim 96 --heads 6 --kv-heads 2 --head-dim 20 --rope-scaling llama3 --rope-factor 8 --rope-orig-context 32 --seed 11")
sci_infer_arch_test(llama_rope_linear 1e-3
  "--arch llama --preset tiny --rope-scaling linear --rope-factor 4 --seed 12")
sci_infer_arch_test(llama_rope_yarn 1e-3
  "--arch llama --preset tiny --heads 8 --kv-heads 8 --head-dim 8 --rope-scaling yarn --rope-factor 4 --rope-orig-context 16 --untied --seed 13")
# Qwen2: Q/K/V biases, NEOX RoPE; GQA ratio 3.
sci_infer_arch_test(qwen2 1e-3 "--arch qwen2 --preset tiny --dim 96 --heads 6 --kv-heads 2 --ffn 160 --seed 14")
# Qwen3: per-head QK RMS-norm, head_dim 24 != dim / heads, untied output.
sci_infer_arch_test(qwen3 1e-3 "--arch qwen3 --preset tiny --heads 6 --kv-heads 2 --head-dim 24 --untied --seed 15")
# Gemma: llama.cpp's GELU reads an F16 table (input and output rounded to half precision), the
# engine computes tanh-GELU in F32; measured 1.7e-3 (gemma2) and 3.5e-3 (gemma3, 7 layers), with
# 5e-4 when the engine emulates that table (docs/models.md). Limit 5e-3.
# gemma2: sliding window 10 on alternate layers, soft-caps 5 (attention) and 3 (logits).
sci_infer_arch_test(gemma2 5e-3
  "--arch gemma2 --preset tiny --layers 3 --head-dim 32 --kv-heads 1 --sliding-window 10 --attn-softcap 5 --final-softcap 3 --seed 16")
# gemma3: QK-norm, 5 local layers of 6 (window 12, base 10000), global base 1e6 with linear scaling 4.
sci_infer_arch_test(gemma3 5e-3
  "--arch gemma3 --preset tiny --layers 7 --head-dim 24 --sliding-window 12 --rope-scaling linear --rope-factor 4 --rope-theta 1000000 --seed 17")

# A file written by llama.cpp's gguf-py (its GGUFWriter, its key names), not by make-model.
add_test(NAME arch_llamacpp_gguf_py_qwen3
  COMMAND ${_arch_gate} logits,gguf-py -- bash -c
          "PYTHONPATH=$PEER_DIR/llama.cpp/gguf-py ${SCI_INFER_PYTHON} ${_arch_py}/make_arch_gguf_py.py ${_arch_work}/gguf_py_qwen3.gguf && ${SCI_INFER_PYTHON} ${_arch_py}/compare_arch_logits.py --sci-infer $<TARGET_FILE:sci-infer> --workdir ${_arch_work} --model ${_arch_work}/gguf_py_qwen3.gguf"
  WORKING_DIRECTORY ${_arch_work})
set_tests_properties(arch_llamacpp_gguf_py_qwen3 PROPERTIES LABELS "arch;numerics;peer" TIMEOUT 180 SKIP_RETURN_CODE 77)
