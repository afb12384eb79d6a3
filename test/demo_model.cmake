# Tests on the trained demo model (examples/train_demo_model/demo-model-f16.gguf): things only a
# model that has learned something can show (test/mpi/test_demo_model.py says what each case checks).
# demo_greedy_llamacpp compares with llama.cpp, so it runs through test/peer/peer_gate.sh: without the
# peer it is "Skipped" with the reason (a failure when CI=true).
find_program(SCI_INFER_MPIEXEC NAMES mpiexec.mpich mpiexec REQUIRED)
set(_demo_gate bash ${CMAKE_CURRENT_SOURCE_DIR}/peer/peer_gate.sh ${SCI_INFER_PEER_DIR})
foreach(_case greedy_llamacpp score_shuffled perplexity reproducible dictionary_words)
  set(_cmd ${SCI_INFER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/mpi/test_demo_model.py ${_case}
           --sci-infer $<TARGET_FILE:sci-infer> --mpiexec ${SCI_INFER_MPIEXEC}
           --workdir ${CMAKE_CURRENT_BINARY_DIR}/demo_${_case})
  if(_case STREQUAL "greedy_llamacpp")
    set(_cmd ${_demo_gate} logits -- ${_cmd})
    set(_labels "demo;numerics;peer")
  else()
    set(_labels "demo;mpi")
  endif()
  add_test(NAME demo_${_case} COMMAND ${_cmd})
  set_tests_properties(demo_${_case} PROPERTIES LABELS "${_labels}" TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()
