# consumer.find_package_refuses_0_3: configures tests/consumers/wants_0_3 (find_package(ist 0.3
# REQUIRED)) against an installed ist FOUND; the configure must fail with CMake's message naming
# the requested version and the installed one it considered.
#   cmake -DPROJECT=<dir> -DBINARY=<dir> -DPREFIX=<ist_ROOT> -DREQUESTED=0.3 -DFOUND=0.2.0 -P refuses_version.cmake
foreach(var PROJECT BINARY PREFIX REQUESTED FOUND)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "refuses_version.cmake: -D${var}=... missing")
  endif()
endforeach()
file(REMOVE_RECURSE ${BINARY})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${PROJECT} -B ${BINARY} -Dist_ROOT=${PREFIX}
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REGEX REPLACE "[ \t\r\n]+" " " said "${out}${err}")  # CMake wraps its messages
string(REPLACE "." "\\." requested "${REQUESTED}")
string(REPLACE "." "\\." found "${FOUND}")
set(expected "Could not find a configuration file for package \"ist\" that is compatible with requested "
             "version \"${requested}\"\\. The following configuration files were considered but not accepted: "
             "[^ ]*/istConfig\\.cmake, version: ${found}")
string(CONCAT expected ${expected})
if(status EQUAL 0)
  message(FATAL_ERROR "find_package(ist ${REQUESTED}) configured against ist ${FOUND}")
endif()
if(NOT said MATCHES "${expected}")
  message(FATAL_ERROR "find_package(ist ${REQUESTED}) failed, but not with CMake's version message:\n${out}${err}")
endif()
message(STATUS "refused as expected: ${CMAKE_MATCH_0}")
