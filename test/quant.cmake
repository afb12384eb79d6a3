# Quantized types (lib/kernels/quant_registry.*): every type's dequantization and integer GEMM
# against gguf-py / numpy, and whole quantized models made by llama.cpp's own tools against
# llama.cpp (see test/quant/*.py for the references and limits).
set(_q_dir ${CMAKE_CURRENT_SOURCE_DIR}/quant)
set(_q_work ${CMAKE_CURRENT_BINARY_DIR}/quant)
file(MAKE_DIRECTORY ${_q_work})
add_executable(quant_probe ${_q_dir}/quant_probe.cpp)
target_link_libraries(quant_probe PRIVATE sci_infer)
target_include_directories(quant_probe PRIVATE ${PROJECT_SOURCE_DIR}/lib)
find_program(SCI_INFER_MPIEXEC NAMES mpiexec.mpich mpiexec REQUIRED)
set(_q_gate bash ${CMAKE_CURRENT_SOURCE_DIR}/peer/peer_gate.sh ${SCI_INFER_PEER_DIR})

add_test(NAME quant_kernels_vs_gguf_py
  COMMAND ${_q_gate} gguf-py -- sh -c "exec ${SCI_INFER_PYTHON} ${_q_dir}/check_quant_kernels.py --probe $<TARGET_FILE:quant_probe> --gguf-py \"$PEER_DIR/llama.cpp/gguf-py\""
  WORKING_DIRECTORY ${_q_work})
set_tests_properties(quant_kernels_vs_gguf_py PROPERTIES LABELS "numerics;peer;quant" TIMEOUT 120 SKIP_RETURN_CODE 77)

# Whole models: gguf-py quantizes the simple types, llama-quantize the K-quant mixes. Each is
# compared at all 48 positions with llama.cpp on the same file and on its dequantized F32 copy.
# llama-quantize is built once (scripts/peer_quantize_setup.sh, cached): the first test builds it.
add_test(NAME quant_llama_quantize_build
  COMMAND ${_q_gate} quantize -- sh -c "echo llama-quantize: $LLAMA_QUANTIZE")
set_tests_properties(quant_llama_quantize_build PROPERTIES LABELS "peer;quant" TIMEOUT 3600
  SKIP_RETURN_CODE 77 FIXTURES_SETUP sci_infer_llama_quantize)
foreach(_qt Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 MXFP4 Q4_K_M Q5_K_M Q6_K)
  set(_need logits,gguf-py)
  if(_qt MATCHES "_K")
    set(_need logits,gguf-py,quantize)
  endif()
  add_test(NAME quant_model_${_qt}_vs_llamacpp
    COMMAND ${_q_gate} ${_need} -- ${SCI_INFER_PYTHON} ${_q_dir}/quant_models.py
            --sci-infer $<TARGET_FILE:sci-infer> --type ${_qt} --workdir ${_q_work}
    WORKING_DIRECTORY ${_q_work})
  set_tests_properties(quant_model_${_qt}_vs_llamacpp PROPERTIES LABELS "numerics;peer;quant" TIMEOUT 600
    SKIP_RETURN_CODE 77)
  if(_qt MATCHES "_K")
    set_tests_properties(quant_model_${_qt}_vs_llamacpp PROPERTIES FIXTURES_REQUIRED sci_infer_llama_quantize)
  endif()
endforeach()

# Bitwise tp invariance on a llama-quantize Q4_K_M model (tp_layout_check from test/tp.cmake).
add_test(NAME quant_tp_layout_Q4_K_M_n2_tp2
  COMMAND ${_q_gate} quantize -- bash ${_q_dir}/tp_kquant.sh $<TARGET_FILE:sci-infer> $<TARGET_FILE:tp_layout_check>
          ${SCI_INFER_MPIEXEC} ${_q_work}/tp)
set_tests_properties(quant_tp_layout_Q4_K_M_n2_tp2 PROPERTIES LABELS "mpi;peer;quant" TIMEOUT 300
  SKIP_RETURN_CODE 77 FIXTURES_REQUIRED sci_infer_llama_quantize)
