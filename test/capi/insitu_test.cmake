# Script behind capi_insitu_examples (cmake -P), like install_tree_external_project: install the build
# tree, build examples/insitu against it as a downstream user would (C++: find_package(sci_infer)
# only; Fortran: pkg-config and make only), and run both under mpiexec -n 2.
#   -DBUILD_DIR -DSOURCE_DIR -DWORK_DIR -DSCI_INFER_BIN -DMPIEXEC -DFORTRAN=0|1
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
include(${CMAKE_CURRENT_LIST_DIR}/../scripts/run_checked.cmake)
# The example must report its looks and the simulation / inference split.
function(check_output name)
  if(NOT LAST_OUTPUT MATCHES "embedding drift" OR
     NOT LAST_OUTPUT MATCHES "time: simulation +[0-9.]+ s, inference +[0-9.]+ s")
    message(FATAL_ERROR "unexpected ${name} output:\n${LAST_OUTPUT}")
  endif()
  message(STATUS "${name} ran:\n${LAST_OUTPUT}")
endfunction()

# Installed in one place, used from another: the CMake package and the pkg-config files must be
# relocatable.
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/staging)
file(RENAME ${WORK_DIR}/staging ${prefix})
run(${SCI_INFER_BIN} make-model --preset tiny --out ${WORK_DIR}/tiny.gguf)

# C++: CMake with find_package(sci_infer).
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/insitu -B ${WORK_DIR}/cpp -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/cpp -j2)
run(${MPIEXEC} -n 2 ${WORK_DIR}/cpp/heat_insitu ${WORK_DIR}/tiny.gguf 400)
check_output("C++ in-situ example")

# Fortran: a plain Makefile, flags from pkg-config (found through PKG_CONFIG_PATH only).
if(FORTRAN)
  find_program(MPIFC NAMES mpifort.mpich mpif90.mpich mpifort REQUIRED)
  file(MAKE_DIRECTORY ${WORK_DIR}/fortran)
  file(GLOB _pcfile ${prefix}/lib*/pkgconfig/sci_infer_fortran.pc ${prefix}/lib/*/pkgconfig/sci_infer_fortran.pc)
  if(NOT _pcfile)
    message(FATAL_ERROR "sci_infer_fortran.pc is not installed under ${prefix}")
  endif()
  list(GET _pcfile 0 _pcfile)
  get_filename_component(_pcdir ${_pcfile} DIRECTORY)
  run(${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${_pcdir}
      make -C ${WORK_DIR}/fortran -f ${SOURCE_DIR}/examples/insitu/Makefile SRCDIR=${SOURCE_DIR}/examples/insitu
      MPIFC=${MPIFC})
  run(${MPIEXEC} -n 2 ${WORK_DIR}/fortran/heat_insitu_f ${WORK_DIR}/tiny.gguf 400)
  check_output("Fortran in-situ example")
endif()
