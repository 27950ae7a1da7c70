# Each program prints exactly "<its file name> (ist) VERSION" for --version, exits 0 and writes
# nothing to stderr. Used by ctest `version: <program>` (the build tree) and by
# tests/package/check_package.sh (every program the ist-tools package installs).
#   cmake -DPROGRAMS=<path>[;<path>...] -DVERSION=0.2.0 -P check_version.cmake
foreach(var PROGRAMS VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_version.cmake: -D${var}=... missing")
  endif()
endforeach()
foreach(program IN LISTS PROGRAMS)
  get_filename_component(name ${program} NAME)
  execute_process(COMMAND ${program} --version RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(expected "${name} (ist) ${VERSION}\n")
  if(NOT status EQUAL 0 OR NOT out STREQUAL expected OR NOT err STREQUAL "")
    message(FATAL_ERROR "${program} --version: exit ${status}, printed '${out}' (stderr '${err}'), expected '${expected}'")
  endif()
  message(STATUS "${name} --version: ${out}")
endforeach()
