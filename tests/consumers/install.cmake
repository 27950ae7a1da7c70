# Installs ist's build tree into a fresh prefix and checks what arrived: the fixture the
# find_package and pkg-config consumer tests start from.
#   cmake -DBUILD_DIR=... -DPREFIX=... -DSOURCE_DIR=... -DCMAKEDIR=... -DPKGCONFIGDIR=...
#         -DDATADIR=... -DINCLUDEDIR=... [-DCOMPONENT=dev] -P install.cmake
# COMPONENT: only that install component (dev: the library, without the programs of `tools`).
foreach(var BUILD_DIR PREFIX SOURCE_DIR CMAKEDIR PKGCONFIGDIR DATADIR INCLUDEDIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install.cmake: -D${var}=... missing")
  endif()
endforeach()

file(REMOVE_RECURSE ${PREFIX})
set(component_option "")
if(COMPONENT)
  set(component_option --component ${COMPONENT})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX} ${component_option}
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${status})")
endif()

set(expected
  ${CMAKEDIR}/istConfig.cmake ${CMAKEDIR}/istConfigVersion.cmake ${CMAKEDIR}/istTargets.cmake
  ${PKGCONFIGDIR}/ist.pc ${DATADIR}/ist/digits.csv.gz ${DATADIR}/ist/README.md
  ${DATADIR}/doc/libist-dev/copyright ${DATADIR}/doc/libist-dev/changelog.gz)
# Every header of the source tree, so a new header cannot be left out of the package.
file(GLOB_RECURSE headers RELATIVE ${SOURCE_DIR}/include ${SOURCE_DIR}/include/*.hpp)
foreach(h IN LISTS headers)
  list(APPEND expected ${INCLUDEDIR}/${h})
endforeach()
set(missing "")
foreach(f IN LISTS expected)
  if(NOT EXISTS ${PREFIX}/${f})
    list(APPEND missing ${f})
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "installed into ${PREFIX}, but missing: ${missing}")
endif()
list(LENGTH headers n)
message(STATUS "installed ist into ${PREFIX}: ${n} headers, data, CMake package, ist.pc")
