# Shared by the consumer projects in this folder (tests/consumers/README.md).

set(IST_CONSUMER_MAIN ${CMAKE_CURRENT_LIST_DIR}/main.cpp)

# The program every consumer builds: main.cpp linked against `target`.
function(ist_consumer_program target)
  add_executable(consumer ${IST_CONSUMER_MAIN})
  target_link_libraries(consumer PRIVATE ${target})
endfunction()

# A project that brings ist in as a subproject gets the library and nothing else: no tests,
# examples or benchmarks (nor their dependencies, such as doctest), no install rules.
function(ist_check_only_the_library ist_source_dir)
  foreach(t ist ist::ist)
    if(NOT TARGET ${t})
      message(FATAL_ERROR "ist as a subproject: target ${t} is missing")
    endif()
  endforeach()
  foreach(t ist_tests ist-train custom_layer)
    if(TARGET ${t})
      message(FATAL_ERROR "ist as a subproject built its own program ${t}")
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${ist_source_dir} PROPERTY SUBDIRECTORIES)
  if(subdirs)
    message(FATAL_ERROR "ist as a subproject added its own subdirectories: ${subdirs}")
  endif()
  get_property(tests DIRECTORY ${ist_source_dir} PROPERTY TESTS)
  if(tests)
    message(FATAL_ERROR "ist as a subproject registered tests: ${tests}")
  endif()
  foreach(option IST_BUILD_TESTS IST_BUILD_EXAMPLES IST_BUILD_BENCHMARKS IST_INSTALL IST_NATIVE)
    if(${option})
      message(FATAL_ERROR "ist as a subproject: ${option} should default to OFF")
    endif()
  endforeach()
endfunction()
