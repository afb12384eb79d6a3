# Script behind install_tree_external_project (cmake -P).
file(REMOVE_RECURSE ${WORK_DIR})
include(${CMAKE_CURRENT_LIST_DIR}/run_checked.cmake)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/embed_cpp -B ${WORK_DIR}/example -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
    -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/example -j2)
run(${SCI_INFER_BIN} make-model --preset tiny --out ${WORK_DIR}/tiny.gguf)
run(${WORK_DIR}/example/embed_example ${WORK_DIR}/tiny.gguf)
if(NOT LAST_OUTPUT MATCHES "record 1: [0-9]+ tokens")
  message(FATAL_ERROR "unexpected example output:\n${LAST_OUTPUT}")
endif()
message(STATUS "install tree example ran:\n${LAST_OUTPUT}")
