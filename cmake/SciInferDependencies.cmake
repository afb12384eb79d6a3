# Finds every third-party dependency once, with the Debian traps handled here
# so that the rest of the build only links imported targets.

include(${CMAKE_CURRENT_LIST_DIR}/SciInferFindMPI.cmake)

set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "sci_infer needs a parallel (MPI) HDF5; found a serial one at ${HDF5_INCLUDE_DIRS}. "
                      "On Debian: apt-get install libhdf5-mpich-dev")
endif()

# find_package(dnnl) drags in OpenCL headers: ocl-icd-opencl-dev must be installed.
find_package(dnnl REQUIRED)

find_package(Kokkos REQUIRED)
# Debian's Kokkos::kokkos points at a missing /usr/lib/include; use the real directory.
if(TARGET Kokkos::kokkos AND Kokkos_INCLUDE_DIRS)
  get_target_property(_kk_aliased Kokkos::kokkos ALIASED_TARGET)
  if(_kk_aliased)
    set(_kk_target ${_kk_aliased})
  else()
    set(_kk_target Kokkos::kokkos)
  endif()
  get_target_property(_kk_type ${_kk_target} TYPE)
  set_target_properties(${_kk_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${Kokkos_INCLUDE_DIRS}")
  # The Debian package pulls its sub-targets in too; fix any that carry the same bad path.
  foreach(_kk_sub Kokkos::kokkoscore Kokkos::kokkoscontainers Kokkos::kokkosalgorithms)
    if(TARGET ${_kk_sub})
      get_target_property(_kk_inc ${_kk_sub} INTERFACE_INCLUDE_DIRECTORIES)
      if(_kk_inc MATCHES "/usr/lib/include")
        set_target_properties(${_kk_sub} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${Kokkos_INCLUDE_DIRS}")
      endif()
    endif()
  endforeach()
endif()

find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)
find_package(CLI11 REQUIRED)
# SHA-256 of model and input files (provenance, resume checks): libcrypto's EVP digests use the
# CPU's SHA extensions, several times faster than a portable routine (libssl-dev).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
# JSON written into output attributes (model metadata, job identity): nlohmann-json3-dev.
find_package(nlohmann_json 3 REQUIRED)

if(SCI_INFER_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
endif()
