# Our replacement for doctest's doctestAddTests.cmake (tests/CMakeLists.txt points doctest_discover_tests
# at it): one ctest entry per doctest case, named as the case, that must run exactly that one case.
#
# Why not doctest's own: it splits the output of --list-test-cases into a CMake list, so a case name
# holding ';' became two entries whose filters matched nothing, and both "passed" having run zero cases.
# Here every line is kept whole (';' never reaches a CMake list), the name and filter are written as
# bracket arguments, and FAIL_REGULAR_EXPRESSION fails an entry whose run counts other than one case
# (tests/check_ctest_cases.py checks the other direction: every case has exactly one entry).
#
# Inputs (set by doctest_discover_tests): TEST_EXECUTABLE, TEST_EXECUTOR, TEST_WORKING_DIR, TEST_SPEC,
# TEST_EXTRA_ARGS, TEST_PROPERTIES, TEST_PREFIX, TEST_SUFFIX, CTEST_FILE (TEST_LIST is not set: nothing reads it).
if(NOT EXISTS "${TEST_EXECUTABLE}")
  message(FATAL_ERROR "Specified test executable '${TEST_EXECUTABLE}' does not exist")
endif()
set(spec "")
if("${TEST_SPEC}" MATCHES .)
  set(spec "--test-case=${TEST_SPEC}")
endif()
execute_process(COMMAND ${TEST_EXECUTOR} "${TEST_EXECUTABLE}" ${spec} --list-test-cases
                OUTPUT_VARIABLE output RESULT_VARIABLE result WORKING_DIRECTORY "${TEST_WORKING_DIR}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "Error running test executable '${TEST_EXECUTABLE}':\n  Result: ${result}\n  Output: ${output}\n")
endif()

# A bracket argument that no case name can close.
function(bracket text out)
  set(${out} "[==[${text}]==]" PARENT_SCOPE)
endfunction()

# doctest prints a summary line "[doctest] test cases: N | ..." (N padded with spaces): anything but 1 fails.
set(not_one_case "test cases: *([02-9]|[1-9][0-9]+) [|]")
set(script "")
# Lines cut by position, never through a CMake list: a ';' in a name stays in it.
string(LENGTH "${output}" remaining)
while(remaining GREATER 0)
  string(FIND "${output}" "\n" eol)
  if(eol EQUAL -1)
    set(line "${output}")
    set(output "")
  else()
    string(SUBSTRING "${output}" 0 ${eol} line)
    math(EXPR next "${eol} + 1")
    string(SUBSTRING "${output}" ${next} -1 output)
  endif()
  string(LENGTH "${output}" remaining)
  string(REGEX REPLACE "\r$" "" line "${line}")
  if(line STREQUAL "" OR line MATCHES "^=+$" OR line MATCHES "^\\[doctest\\] ")
    continue()
  endif()
  set(name "${TEST_PREFIX}${line}${TEST_SUFFIX}")
  # doctest reads ',' in a filter as "or": escape it. '*' and '?' are wildcards; the summary check catches
  # a name whose filter would match more than its own case.
  string(REPLACE "," "\\," filter "${line}")
  bracket("${name}" quoted_name)
  bracket("--test-case=${filter}" quoted_filter)
  bracket("${TEST_EXECUTABLE}" quoted_exe)
  bracket("${TEST_WORKING_DIR}" quoted_dir)
  bracket("${not_one_case}" quoted_regex)
  string(APPEND script "add_test(${quoted_name} ${TEST_EXECUTOR} ${quoted_exe} ${quoted_filter} ${TEST_EXTRA_ARGS})\n")
  string(APPEND script "set_tests_properties(${quoted_name} PROPERTIES WORKING_DIRECTORY ${quoted_dir} "
                       "FAIL_REGULAR_EXPRESSION ${quoted_regex} ${TEST_PROPERTIES})\n")
endwhile()
file(WRITE "${CTEST_FILE}" "${script}")
