# Tensor parallelism: every layout of 1, 2 and 4 ranks gives the single-rank bits (library
# level: logits at all positions and sampled generation, mixed-length batch), for a GQA model
# whose KV heads are split (tp 2) and replicated (tp 4), in F32 and Q8_0.
find_program(SCI_INFER_MPIEXEC NAMES mpiexec.mpich mpiexec REQUIRED)
add_executable(tp_layout_check ${CMAKE_CURRENT_SOURCE_DIR}/tp/tp_layout_check.cpp)
target_link_libraries(tp_layout_check PRIVATE sci_infer)
foreach(_dtype f32 q8_0)
  set(_model ${CMAKE_CURRENT_BINARY_DIR}/tp_gqa_${_dtype}.gguf)
  add_test(NAME tp_make_model_${_dtype}
    COMMAND $<TARGET_FILE:sci-infer> make-model --preset tiny --dim 256 --heads 8 --kv-heads 2 --ffn 512
            --layers 2 --dtype ${_dtype} --seed 5 --out ${_model})
  set_tests_properties(tp_make_model_${_dtype} PROPERTIES FIXTURES_SETUP tp_model_${_dtype})
  foreach(_layout "4;1" "4;2" "4;4" "2;2")
    list(GET _layout 0 _n)
    list(GET _layout 1 _tp)
    add_test(NAME tp_layout_${_dtype}_n${_n}_tp${_tp}
      COMMAND ${SCI_INFER_MPIEXEC} -n ${_n} $<TARGET_FILE:tp_layout_check> ${_model} ${_tp})
    set_tests_properties(tp_layout_${_dtype}_n${_n}_tp${_tp} PROPERTIES FIXTURES_REQUIRED tp_model_${_dtype}
                         LABELS mpi TIMEOUT 300)
  endforeach()
endforeach()
add_test(NAME tp_layout_fast_n4_tp4
  COMMAND ${SCI_INFER_MPIEXEC} -n 4 $<TARGET_FILE:tp_layout_check> ${CMAKE_CURRENT_BINARY_DIR}/tp_gqa_f32.gguf 4 fast)
set_tests_properties(tp_layout_fast_n4_tp4 PROPERTIES FIXTURES_REQUIRED tp_model_f32 LABELS mpi TIMEOUT 300)

# Other architectures (issue 11): qwen2's Q/K/V biases are cut with their heads, its NEOX RoPE
# pairs stay within a head; gemma2's soft-caps, sliding window, post-norms and GeGLU are per row.
# KV heads split (tp 2) and replicated (tp 4); the same bits as one rank.
foreach(_arch qwen2 gemma2)
  set(_model ${CMAKE_CURRENT_BINARY_DIR}/tp_${_arch}.gguf)
  add_test(NAME tp_make_model_${_arch}
    COMMAND $<TARGET_FILE:sci-infer> make-model --arch ${_arch} --preset tiny --dim 128 --heads 8 --kv-heads 2
            --head-dim 24 --ffn 256 --layers 2 --sliding-window 12 --attn-softcap 5 --final-softcap 3 --seed 6
            --out ${_model})
  set_tests_properties(tp_make_model_${_arch} PROPERTIES FIXTURES_SETUP tp_model_${_arch})
  foreach(_layout "4;2" "4;4")
    list(GET _layout 0 _n)
    list(GET _layout 1 _tp)
    add_test(NAME tp_layout_${_arch}_n${_n}_tp${_tp}
      COMMAND ${SCI_INFER_MPIEXEC} -n ${_n} $<TARGET_FILE:tp_layout_check> ${_model} ${_tp})
    set_tests_properties(tp_layout_${_arch}_n${_n}_tp${_tp} PROPERTIES FIXTURES_REQUIRED tp_model_${_arch}
                         LABELS mpi TIMEOUT 300)
  endforeach()
endforeach()
