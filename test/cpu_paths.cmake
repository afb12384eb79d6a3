# The per-instruction-set kernel objects share no symbol with the rest of the library
# (cpu_gemm_kernels.hpp says why); only where they are built (x86-64).
if(TARGET sci_infer AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  add_test(NAME cpu_isa_objects_self_contained
    COMMAND ${SCI_INFER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cpu_paths/check_isa_objects.py ${CMAKE_NM}
            "$<TARGET_OBJECTS:sci_infer>")
endif()
