# Fault injection (test/fault/fault_shim.c): an LD_PRELOAD library that fails write / pwrite /
# fsync / rename / pread on a chosen rank and call; used by test/mpi/test_faults.py, which finds
# it next to this build's tests (SCI_FAULT_SHIM).
add_library(sci_fault_shim SHARED ${CMAKE_CURRENT_SOURCE_DIR}/fault/fault_shim.c)
target_link_libraries(sci_fault_shim PRIVATE ${CMAKE_DL_LIBS})
set_target_properties(sci_fault_shim PROPERTIES C_VISIBILITY_PRESET default)

# The launcher's output-safety pieces are unit-tested directly (test/unit/test_output_safety.cpp).
target_sources(sci_infer_unit PRIVATE ${PROJECT_SOURCE_DIR}/apps/launcher/output_lock.cpp
                                      ${PROJECT_SOURCE_DIR}/apps/launcher/output_paths.cpp)
target_include_directories(sci_infer_unit PRIVATE ${PROJECT_SOURCE_DIR}/apps/launcher)
