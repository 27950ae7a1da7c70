# consumer.vendored: `make vendor`'s folder copied into a project outside ist's source tree (a fresh
# directory under the temporary directory), added with add_subdirectory, built and run; nothing of
# the build may point back into the source tree. Removes its directory when it passes.
#   cmake -DSOURCE_DIR=... -DCXX=... -DGENERATOR=... -DVERSION=... -P vendored.cmake
foreach(var SOURCE_DIR CXX GENERATOR VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "vendored.cmake: -D${var}=... missing")
  endif()
endforeach()
set(tmp $ENV{TMPDIR})
if(NOT tmp)
  set(tmp /tmp)
endif()
string(RANDOM LENGTH 8 tag)
set(work ${tmp}/ist-vendored-${tag})
cmake_path(IS_PREFIX SOURCE_DIR "${work}" NORMALIZE inside)
if(inside)
  message(FATAL_ERROR "${work} is inside the source tree ${SOURCE_DIR}")
endif()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "failed (${status}): ${ARGN}")
  endif()
endfunction()

# The user's project: its own sources (the consumer program) and the vendored folder in third_party/.
set(project ${work}/project)
file(COPY ${SOURCE_DIR}/tests/consumers/common.cmake ${SOURCE_DIR}/tests/consumers/main.cpp DESTINATION ${project})
file(COPY ${SOURCE_DIR}/tests/consumers/vendored DESTINATION ${project})
run(${CMAKE_COMMAND} -DDEST=${project}/third_party -P ${SOURCE_DIR}/cmake/ist_vendor.cmake)
set(ist ${project}/third_party/ist)
run(${CMAKE_COMMAND} -S ${project}/vendored -B ${work}/build -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DIST_VENDORED_DIR=${ist} -DIST_EXPECT_VERSION=${VERSION})
run(${CMAKE_COMMAND} --build ${work}/build)
file(READ ${work}/build/compile_commands.json commands)
string(FIND "${commands}" "${SOURCE_DIR}/" found)
if(NOT found EQUAL -1)
  message(FATAL_ERROR "the vendored build refers to ist's source tree ${SOURCE_DIR}: ${commands}")
endif()
run(${work}/build/consumer ${ist}/data)
file(REMOVE_RECURSE ${work})
message(STATUS "vendored ist ${VERSION} from a copy outside the source tree: consumer OK")
