# The install tree works for a downstream project: `cmake --install`, then the example in
# examples/embed_cpp builds against it with only find_package(sci_infer) and runs.
add_test(NAME install_tree_external_project
  COMMAND ${CMAKE_COMMAND}
    -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
    -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install_test
    -DSCI_INFER_BIN=$<TARGET_FILE:sci-infer>
    -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/install_test.cmake)
set_tests_properties(install_tree_external_project PROPERTIES TIMEOUT 600 LABELS install RUN_SERIAL TRUE)
