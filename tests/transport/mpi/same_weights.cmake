# Two ways to train end with the same weights (the "weights checksum" ist-train prints last).
#   cmake -DREFERENCE=<command> [-DFIRST=<command>] -DRUN=<command> [-DSCRATCH=<file>] -P same_weights.cmake
# A command's arguments are separated by '|'. SCRATCH (e.g. a checkpoint) is removed first; FIRST,
# if given, runs before RUN (e.g. the first half of a run that RUN resumes).
function(checksum_of command out)
  string(REPLACE "|" ";" argv "${command}")
  execute_process(COMMAND ${argv} OUTPUT_VARIABLE printed ERROR_VARIABLE errors RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${argv}\n${printed}${errors}")
  endif()
  string(REGEX MATCH "weights checksum ([0-9a-f]+)" _ "${printed}")
  if(CMAKE_MATCH_1 STREQUAL "")
    message(FATAL_ERROR "no weights checksum printed by: ${argv}\n${printed}")
  endif()
  set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
endfunction()

if(DEFINED SCRATCH)
  file(REMOVE ${SCRATCH})
endif()
checksum_of("${REFERENCE}" reference)
if(DEFINED FIRST)
  checksum_of("${FIRST}" first)
endif()
checksum_of("${RUN}" run)
if(NOT reference STREQUAL run)
  message(FATAL_ERROR "weights differ: ${reference} from ${REFERENCE}, ${run} from ${RUN}")
endif()
message(STATUS "same weights (checksum ${run})")
