# gpt-oss (issue 11): mixture of experts, attention sinks, clamped SwiGLU, YaRN, sliding window.
# Models written by llama.cpp's own gguf-py (test/python/make_gpt_oss_gguf.py), so neither side's
# maker is trusted: logits at every position of a 44-token sequence vs llama.cpp (F32 KV cache,
# flash attention off), and tensor parallelism 1/2/4 bit for bit (tp_layout_check).
#   ctest -L moe
set(_moe_work ${CMAKE_CURRENT_BINARY_DIR}/moe)
file(MAKE_DIRECTORY ${_moe_work})
set(_moe_gate bash ${CMAKE_CURRENT_SOURCE_DIR}/peer/peer_gate.sh ${SCI_INFER_PEER_DIR})
set(_moe_make PYTHONPATH=${SCI_INFER_PEER_DIR}/llama.cpp/gguf-py ${SCI_INFER_PYTHON}
              ${CMAKE_CURRENT_SOURCE_DIR}/python/make_gpt_oss_gguf.py)

# name, experts type, expert width, atol
function(sci_infer_moe_model name experts width)
  add_test(NAME moe_make_${name}
    COMMAND ${_moe_gate} gguf-py -- env ${_moe_make} --out ${_moe_work}/${name}.gguf --experts ${experts}
            --expert-ffn ${width} --seed 21)
  set_tests_properties(moe_make_${name} PROPERTIES FIXTURES_SETUP moe_${name} LABELS "moe" SKIP_RETURN_CODE 77)
endfunction()
sci_infer_moe_model(f32 f32 128)
sci_infer_moe_model(f16 f16 128)
sci_infer_moe_model(mxfp4 mxfp4 128)

foreach(_m f32 f16 mxfp4)
  add_test(NAME moe_llamacpp_gpt_oss_${_m}
    COMMAND ${_moe_gate} logits -- ${SCI_INFER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/python/compare_arch_logits.py
            --sci-infer $<TARGET_FILE:sci-infer> --workdir ${_moe_work} --atol 1e-3 --model ${_moe_work}/${_m}.gguf)
  set_tests_properties(moe_llamacpp_gpt_oss_${_m} PROPERTIES FIXTURES_REQUIRED moe_${_m}
                       LABELS "moe;arch;numerics;peer" TIMEOUT 180 SKIP_RETURN_CODE 77)
endforeach()

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
