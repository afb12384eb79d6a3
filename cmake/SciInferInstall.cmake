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
