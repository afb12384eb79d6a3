# Install tree: headers, library, CMake package config (find_package(sci_infer)) and pkg-config.
include(CMakePackageConfigHelpers)
install(TARGETS sci_infer EXPORT sci_infer-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sci_infer DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/lib/generated/sci_infer/version.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sci_infer)
install(EXPORT sci_infer-targets NAMESPACE sci_infer::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sci_infer)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/sci_infer-config.cmake.in
  ${PROJECT_BINARY_DIR}/sci_infer-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sci_infer)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sci_infer-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sci_infer-config.cmake
              ${PROJECT_BINARY_DIR}/sci_infer-config-version.cmake
              ${PROJECT_SOURCE_DIR}/cmake/SciInferDependencies.cmake
              ${PROJECT_SOURCE_DIR}/cmake/SciInferFindMPI.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sci_infer)

# Language bindings: the C API library, the Fortran module and its library.
install(TARGETS sci_infer_c EXPORT sci_infer-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET sci_infer_fortran)
  install(TARGETS sci_infer_fortran EXPORT sci_infer-targets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${SCI_INFER_FORTRAN_MODULE_DIR}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sci_infer/fortran
    FILES_MATCHING PATTERN "*.mod")
endif()

# pkg-config files (lib/pkgconfig/sci_infer.pc, sci_infer_fortran.pc), relocatable: the prefix
# is found from the .pc file's own directory (${pcfiledir}).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  message(WARNING "absolute CMAKE_INSTALL_LIBDIR/INCLUDEDIR: the pkg-config files will not be relocatable")
  set(SCI_INFER_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(SCI_INFER_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(SCI_INFER_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH _pc_up "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" _pc_up "${_pc_up}")
  set(SCI_INFER_PC_PREFIX "\${pcfiledir}/${_pc_up}")
  set(SCI_INFER_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(SCI_INFER_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
set(_pc_files sci_infer)
if(TARGET sci_infer_fortran)
  list(APPEND _pc_files sci_infer_fortran)
endif()
foreach(_pc IN LISTS _pc_files)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${_pc}.pc.in ${PROJECT_BINARY_DIR}/${_pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${_pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
