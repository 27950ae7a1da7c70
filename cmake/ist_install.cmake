# Install rules (docs/install.md): headers, the bundled data set, the CMake package
# (istConfig.cmake, istConfigVersion.cmake, istTargets.cmake with ist::ist, and istMpiTargets.cmake
# with ist::mpi when that target exists), the pkg-config file ist.pc and the documentation. All of
# it is the install component `dev` (the package libist-dev, cmake/ist_package.cmake); the programs
# are the component `tools` (examples/cli/CMakeLists.txt).
#
# Included from the top-level CMakeLists.txt once the targets it exports exist (ist::mpi is
# exported when cmake/ist_mpi.cmake created it) and before tests/consumers, which uses the
# IST_INSTALL_* directories. ist is header-only, so the package goes under the
# architecture-independent DATADIR (share/), as the version file says.
include(CMakePackageConfigHelpers)

set(IST_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/ist" CACHE STRING
    "Where istConfig.cmake is installed, relative to the prefix")
set(IST_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_DATADIR}/pkgconfig" CACHE STRING
    "Where ist.pc is installed, relative to the prefix")
mark_as_advanced(IST_INSTALL_CMAKEDIR IST_INSTALL_PKGCONFIGDIR)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ist
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.hpp")
# IST_DATA_DIR of the installed target points here (the INSTALL_INTERFACE in CMakeLists.txt).
install(FILES ${PROJECT_SOURCE_DIR}/data/digits.csv.gz ${PROJECT_SOURCE_DIR}/data/karate.edgelist ${PROJECT_SOURCE_DIR}/data/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/ist COMPONENT dev)
# The documentation, where Debian keeps a package's: share/doc/<package>/ with the licence as
# `copyright` and CHANGELOG.md as `changelog.gz` (gzip -n: no timestamp, so the package's bytes do
# not change with the day it was built). ist_install_package_docs(<package> <component>) installs
# those two for a package; examples/cli does it for ist-tools.
find_program(IST_GZIP gzip REQUIRED)
execute_process(COMMAND ${IST_GZIP} -9nc ${PROJECT_SOURCE_DIR}/CHANGELOG.md OUTPUT_FILE ${PROJECT_BINARY_DIR}/changelog.gz
                COMMAND_ERROR_IS_FATAL ANY)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/CHANGELOG.md)
function(ist_install_package_docs package component)
  install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package}
          RENAME copyright COMPONENT ${component})
  install(FILES ${PROJECT_BINARY_DIR}/changelog.gz DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package}
          COMPONENT ${component})
endfunction()
ist_install_package_docs(libist-dev dev)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/libist-dev COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/libist-dev/docs
        COMPONENT dev FILES_MATCHING PATTERN "*.md" PATTERN "bench" EXCLUDE)

install(TARGETS ist EXPORT istTargets COMPONENT dev)
install(EXPORT istTargets NAMESPACE ist:: DESTINATION ${IST_INSTALL_CMAKEDIR} COMPONENT dev)

# The MPI target is exported in a file of its own, loaded only for find_package(ist COMPONENTS
# mpi): a consumer without MPI installed can still use ist::ist.
set(IST_INSTALL_MPI OFF)
if(TARGET ist::mpi)
  get_target_property(_ist_mpi_target ist::mpi ALIASED_TARGET)
  if(NOT _ist_mpi_target)
    set(_ist_mpi_target ist::mpi)
  endif()
  set_target_properties(${_ist_mpi_target} PROPERTIES EXPORT_NAME mpi)
  install(TARGETS ${_ist_mpi_target} EXPORT istMpiTargets COMPONENT dev)
  install(EXPORT istMpiTargets NAMESPACE ist:: DESTINATION ${IST_INSTALL_CMAKEDIR} COMPONENT dev)
  set(IST_INSTALL_MPI ON)
  unset(_ist_mpi_target)
endif()

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/istConfig.cmake.in
  ${PROJECT_BINARY_DIR}/istConfig.cmake
  INSTALL_DESTINATION ${IST_INSTALL_CMAKEDIR})
# SameMinorVersion: while ist is 0.x a minor release may break the API (0.2 renamed what 0.1 called
# otherwise, CHANGELOG.md), so find_package(ist 0.2) takes 0.2.0, 0.2.1, ... and refuses 0.1 and 0.3,
# which CMake reports as "Could not find a configuration file for package "ist" that is compatible
# with requested version" listing the 0.2.x it saw. From 1.0 on it becomes SameMajorVersion.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/istConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion
  ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/istConfig.cmake ${PROJECT_BINARY_DIR}/istConfigVersion.cmake
        DESTINATION ${IST_INSTALL_CMAKEDIR} COMPONENT dev)

# pkg-config: relocatable through ${pcfiledir} when the install directories are relative.
if(IS_ABSOLUTE "${IST_INSTALL_PKGCONFIGDIR}")
  set(IST_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _ist_pc_up "/prefix/${IST_INSTALL_PKGCONFIGDIR}" "/prefix")
  string(REGEX REPLACE "/$" "" _ist_pc_up "${_ist_pc_up}")
  set(IST_PC_PREFIX "\${pcfiledir}/${_ist_pc_up}")
  unset(_ist_pc_up)
endif()
foreach(_ist_dir INCLUDEDIR DATADIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_ist_dir}}")
    set(IST_PC_${_ist_dir} "${CMAKE_INSTALL_${_ist_dir}}")
  else()
    set(IST_PC_${_ist_dir} "\${prefix}/${CMAKE_INSTALL_${_ist_dir}}")
  endif()
endforeach()
unset(_ist_dir)
if(IST_GEMM STREQUAL "onednn")
  set(IST_PC_GEMM_CFLAGS " -DIST_GEMM_ONEDNN=1")
  set(IST_PC_GEMM_LIBS " -ldnnl -lgomp")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/ist.pc.in ${PROJECT_BINARY_DIR}/ist.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ist.pc DESTINATION ${IST_INSTALL_PKGCONFIGDIR} COMPONENT dev)
