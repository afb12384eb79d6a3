# Quantized types (lib/kernels/quant_registry.*): every type's dequantization and integer GEMM
# against gguf-py / numpy, and whole quantized models made by llama.cpp's own tools against
# llama.cpp (see test/quant/*.py for the references and limits).
set(_q_dir ${CMAKE_CURRENT_SOURCE_DIR}/quant)
set(_q_work ${CMAKE_CURRENT_BINARY_DIR}/quant)
file(MAKE_DIRECTORY ${_q_work})
add_executable(quant_probe ${_q_dir}/quant_probe.cpp)
target_link_libraries(quant_probe PRIVATE sci_infer)
target_include_directories(quant_probe PRIVATE ${PROJECT_SOURCE_DIR}/lib)
set(_q_gate bash ${CMAKE_CURRENT_SOURCE_DIR}/peer/peer_gate.sh ${SCI_INFER_PEER_DIR})

add_test(NAME quant_kernels_vs_gguf_py
  COMMAND ${_q_gate} gguf-py -- sh -c "exec ${SCI_INFER_PYTHON} ${_q_dir}/check_quant_kernels.py --probe $<TARGET_FILE:quant_probe> --gguf-py \"$PEER_DIR/llama.cpp/gguf-py\""
  WORKING_DIRECTORY ${_q_work})
set_tests_properties(quant_kernels_vs_gguf_py PROPERTIES LABELS "numerics;peer;quant" TIMEOUT 120 SKIP_RETURN_CODE 77)
