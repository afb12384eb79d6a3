# Finds MPI, preferring MPICH's wrappers; shared by the build and the installed package config.
# Debian installs Open MPI's runtime alongside (a Trilinos dependency) and its alternatives may
# point mpicc/mpiexec at Open MPI while the headers are MPICH's: pin the MPICH wrappers.
foreach(_w C:mpicc.mpich CXX:mpicxx.mpich)
  string(REPLACE ":" ";" _w ${_w})
  list(GET _w 0 _lang)
  list(GET _w 1 _exe)
  find_program(_sci_${_lang}_wrapper ${_exe})
  if(_sci_${_lang}_wrapper AND NOT MPI_${_lang}_COMPILER)
    set(MPI_${_lang}_COMPILER ${_sci_${_lang}_wrapper} CACHE FILEPATH "MPI ${_lang} wrapper")
  endif()
endforeach()
find_program(_sci_mpiexec mpiexec.mpich)
if(_sci_mpiexec AND NOT MPIEXEC_EXECUTABLE)
  set(MPIEXEC_EXECUTABLE ${_sci_mpiexec} CACHE FILEPATH "mpiexec")
endif()
find_package(MPI REQUIRED COMPONENTS C CXX)
