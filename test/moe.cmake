# gpt-oss (issue 11): mixture of experts, attention sinks, clamped SwiGLU, YaRN, sliding window.
# Models written by llama.cpp's own gguf-py (test/python/make_gpt_oss_gguf.py), so neither side's
# maker is trusted: logits at every position of a 44-token sequence vs llama.cpp (F32 KV cache,
# flash attention off), and tensor parallelism 1/2/4 bit for bit (tp_layout_check).
#   ctest -L moe
# (test/*.cmake are included in name order: tp.cmake, which defines these too, comes later.)
find_program(SCI_INFER_MPIEXEC NAMES mpiexec.mpich mpiexec REQUIRED)
set(_moe_work ${CMAKE_CURRENT_BINARY_DIR}/moe)
file(MAKE_DIRECTORY ${_moe_work})
set(_moe_gate bash ${CMAKE_CURRENT_SOURCE_DIR}/peer/peer_gate.sh ${SCI_INFER_PEER_DIR})
set(_moe_make PYTHONPATH=${SCI_INFER_PEER_DIR}/llama.cpp/gguf-py ${SCI_INFER_PYTHON}
              ${CMAKE_CURRENT_SOURCE_DIR}/python/make_gpt_oss_gguf.py)

# name, then make_gpt_oss_gguf.py arguments
function(sci_infer_moe_model name)
  add_test(NAME moe_make_${name}
    COMMAND ${_moe_gate} gguf-py -- env ${_moe_make} --out ${_moe_work}/${name}.gguf ${ARGN})
  set_tests_properties(moe_make_${name} PROPERTIES FIXTURES_SETUP moe_${name} LABELS "moe" SKIP_RETURN_CODE 77)
endfunction()
sci_infer_moe_model(f32 --experts f32 --seed 21)
sci_infer_moe_model(f16 --experts f16 --seed 21)
# MXFP4 experts and, for reference, the same model with llama.cpp's F32 dequantization of them.
sci_infer_moe_model(mxfp4 --experts mxfp4 --gate-up-scale 0.4 --seed 21 --dequantized-out ${_moe_work}/mxfp4_deq.gguf)

# name, fixture, compare_arch_logits.py arguments
function(sci_infer_moe_compare name fixture)
  add_test(NAME moe_llamacpp_gpt_oss_${name}
    COMMAND ${_moe_gate} logits -- ${SCI_INFER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/python/compare_arch_logits.py
            --sci-infer $<TARGET_FILE:sci-infer> --workdir ${_moe_work} ${ARGN})
  set_tests_properties(moe_llamacpp_gpt_oss_${name} PROPERTIES FIXTURES_REQUIRED moe_${fixture}
                       LABELS "moe;arch;numerics;peer" TIMEOUT 180 SKIP_RETURN_CODE 77)
endfunction()
# F32: measured 7.9e-5 (large gate/up weights drive the SwiGLU clamps; logits up to 17).
sci_infer_moe_compare(f32 f32 --atol 1e-3 --model ${_moe_work}/f32.gguf)
# F16 experts: llama.cpp's CPU matmul rounds the activations to F16 for F16 weights, the engine
# keeps them F32 (not verified by emulation): measured 2.8e-2 on these logits (|max| 16). Limit 5e-2.
sci_infer_moe_compare(f16 f16 --atol 5e-2 --model ${_moe_work}/f16.gguf)
# MXFP4 experts (Q8_0 activations, as llama.cpp): against llama.cpp's own MXFP4 run (cosine
# 0.99992, argmax 44/44 measured) and against its F32 run of the dequantized experts (cosine
# 0.9984 measured; llama.cpp's own MXFP4 run scores 0.9985 there: the tiny model's quantization
# noise, not the kernel).
sci_infer_moe_compare(mxfp4 mxfp4 --atol 0 --min-cos 0.999 --model ${_moe_work}/mxfp4.gguf)
sci_infer_moe_compare(mxfp4_vs_f32 mxfp4 --atol 0 --min-cos 0.998 --model ${_moe_work}/mxfp4.gguf
                      --peer-model ${_moe_work}/mxfp4_deq.gguf)

# sci-infer make-model --arch gpt-oss (no peer needed), llama.cpp's conventions: also vs llama.cpp.
set(_oss_make --arch gpt-oss --preset tiny --heads 4 --kv-heads 2 --head-dim 24 --ffn 64 --experts 4
              --experts-used 2 --sliding-window 8 --rope-scaling yarn --rope-factor 4 --rope-orig-context 32)
string(REPLACE ";" " " _oss_make_str "${_oss_make}")
add_test(NAME moe_llamacpp_gpt_oss_make_model
  COMMAND ${_moe_gate} logits -- ${SCI_INFER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/python/compare_arch_logits.py
          --sci-infer $<TARGET_FILE:sci-infer> --workdir ${_moe_work} --atol 1e-3 --make "${_oss_make_str} --seed 22")
set_tests_properties(moe_llamacpp_gpt_oss_make_model PROPERTIES LABELS "moe;arch;numerics;peer" TIMEOUT 180
                     SKIP_RETURN_CODE 77)

# tp 2 and 4 give the one-rank bits. Expert width 64 (F32: 16 K-chunks): expert rows split.
# Expert width 6 (2 K-chunks): tp 2 splits rows, tp 4 shards whole experts (the layout MXFP4
# experts of width 2880 need).
foreach(_w 64 6)
  set(_model ${_moe_work}/tp_gpt_oss_w${_w}.gguf)
  add_test(NAME moe_tp_make_model_w${_w}
    COMMAND $<TARGET_FILE:sci-infer> make-model ${_oss_make} --expert-ffn ${_w} --seed 23 --out ${_model})
  set_tests_properties(moe_tp_make_model_w${_w} PROPERTIES FIXTURES_SETUP moe_tp_w${_w} LABELS moe)
  foreach(_layout "4;2" "4;4")
    list(GET _layout 0 _n)
    list(GET _layout 1 _tp)
    add_test(NAME moe_tp_layout_w${_w}_n${_n}_tp${_tp}
      COMMAND ${SCI_INFER_MPIEXEC} -n ${_n} $<TARGET_FILE:tp_layout_check> ${_model} ${_tp})
    set_tests_properties(moe_tp_layout_w${_w}_n${_n}_tp${_tp} PROPERTIES FIXTURES_REQUIRED moe_tp_w${_w}
                         LABELS "moe;mpi" TIMEOUT 300)
  endforeach()
endforeach()
