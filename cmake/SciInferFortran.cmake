# Fortran is optional: the Fortran module (bindings/fortran) and its test are built only when a
# Fortran compiler is found. enable_language must run at the top level (test/ compiles Fortran
# too), hence this file, included from the top-level CMakeLists.txt.
option(SCI_INFER_FORTRAN "Build the Fortran module when a Fortran compiler is found" ON)
if(SCI_INFER_FORTRAN)
  include(CheckLanguage)
  check_language(Fortran)
  if(CMAKE_Fortran_COMPILER)
    enable_language(Fortran)
    # The MPICH Fortran wrapper, for the same reason as the C/C++ ones (SciInferDependencies.cmake).
    find_program(_sci_Fortran_wrapper mpifort.mpich)
    if(_sci_Fortran_wrapper AND NOT MPI_Fortran_COMPILER)
      set(MPI_Fortran_COMPILER ${_sci_Fortran_wrapper} CACHE FILEPATH "MPI Fortran wrapper")
    endif()
    find_package(MPI COMPONENTS Fortran)  # for the Fortran test program only; the module needs no MPI
  else()
    message(STATUS "sci_infer: no Fortran compiler found; the Fortran module is not built")
  endif()
endif()
