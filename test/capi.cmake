# C and Fortran API tests (bindings/, include/sci_infer/sci_infer.h): every entry point and every
# documented misuse under mpiexec -n 2, C results == C++ Engine results bit for bit, and the
# in-situ examples (examples/insitu) built against the install tree and run under mpiexec -n 2.
find_program(SCI_INFER_MPIEXEC NAMES mpiexec.mpich mpiexec REQUIRED)
set(_capi_dir ${CMAKE_CURRENT_BINARY_DIR}/capi)
set(_capi_model ${_capi_dir}/tiny.gguf)
file(MAKE_DIRECTORY ${_capi_dir})
# Two ranks on a small machine: one thread each, and OpenMP threads that sleep when idle.
set(_capi_env OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive)

add_test(NAME capi_make_model COMMAND $<TARGET_FILE:sci-infer> make-model --preset tiny --out ${_capi_model})
set_tests_properties(capi_make_model PROPERTIES FIXTURES_SETUP capi_model LABELS capi)

add_executable(test_capi capi/test_capi.c)
target_link_libraries(test_capi PRIVATE sci_infer_c MPI::MPI_C m)
set_target_properties(test_capi PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
target_compile_options(test_capi PRIVATE -Wall -Wextra)
if(SCI_INFER_CUDA)
  target_compile_definitions(test_capi PRIVATE SCI_INFER_TEST_HAVE_CUDA=1)
endif()
add_test(NAME capi_c COMMAND ${SCI_INFER_MPIEXEC} -n 2 $<TARGET_FILE:test_capi> ${_capi_model}
  WORKING_DIRECTORY ${_capi_dir})
add_test(NAME capi_c_outside_mpi COMMAND $<TARGET_FILE:test_capi> --outside-mpi)

add_executable(test_capi_bitwise capi/test_capi_bitwise.cpp)
target_link_libraries(test_capi_bitwise PRIVATE sci_infer sci_infer_c)
add_test(NAME capi_bitwise_vs_cpp COMMAND ${SCI_INFER_MPIEXEC} -n 2 $<TARGET_FILE:test_capi_bitwise> ${_capi_model})
set(_capi_tests capi_c capi_c_outside_mpi capi_bitwise_vs_cpp)

if(TARGET sci_infer_fortran AND MPI_Fortran_FOUND)
  add_executable(test_capi_fortran capi/test_fortran.f90)
  target_link_libraries(test_capi_fortran PRIVATE sci_infer_fortran MPI::MPI_Fortran)
  set_target_properties(test_capi_fortran PROPERTIES Fortran_MODULE_DIRECTORY ${_capi_dir}/mod)
  add_test(NAME capi_fortran COMMAND ${SCI_INFER_MPIEXEC} -n 2 $<TARGET_FILE:test_capi_fortran> ${_capi_model})
  list(APPEND _capi_tests capi_fortran)
endif()
set_tests_properties(${_capi_tests} PROPERTIES FIXTURES_REQUIRED capi_model LABELS "capi;mpi" TIMEOUT 300
  ENVIRONMENT "${_capi_env}")

# The examples as downstream projects: C++ with find_package(sci_infer), Fortran with pkg-config
# and a plain Makefile.
add_test(NAME capi_insitu_examples
  COMMAND ${CMAKE_COMMAND}
    -DBUILD_DIR=${PROJECT_BINARY_DIR} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
    -DWORK_DIR=${_capi_dir}/insitu
    -DSCI_INFER_BIN=$<TARGET_FILE:sci-infer> -DMPIEXEC=${SCI_INFER_MPIEXEC}
    -DFORTRAN=$<BOOL:$<TARGET_EXISTS:sci_infer_fortran>>
    -P ${CMAKE_CURRENT_SOURCE_DIR}/capi/insitu_test.cmake)
set_tests_properties(capi_insitu_examples PROPERTIES TIMEOUT 900 LABELS "capi;install;mpi" RUN_SERIAL TRUE
  ENVIRONMENT "${_capi_env}")
