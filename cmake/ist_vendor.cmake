# The folder to vendor (docs/install.md, "Vendoring"): ist's library and its CMake build, nothing
# else (no tests, examples, benchmarks or docs). Copy it into your project and add_subdirectory() it.
#   cmake -DDEST=<dir> -P cmake/ist_vendor.cmake      (make vendor: DEST=build/vendor)
# writes <dir>/ist: CMakeLists.txt, cmake/, include/ist/, data/ (the bundled data sets), LICENSE,
# CHANGELOG.md. Built as a subproject, the top-level CMakeLists.txt defines ist::ist (and ist::mpi
# where MPI is found) and leaves out everything else (IST_BUILD_* and IST_INSTALL default OFF there).
if(NOT DEFINED DEST)
  message(FATAL_ERROR "ist_vendor.cmake: -DDEST=<directory to write ist/ into> missing")
endif()
get_filename_component(source ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
set(folder ${DEST}/ist)
file(REMOVE_RECURSE ${folder})
file(MAKE_DIRECTORY ${folder}/data)
file(COPY ${source}/CMakeLists.txt ${source}/LICENSE ${source}/CHANGELOG.md ${source}/cmake DESTINATION ${folder})
file(COPY ${source}/include DESTINATION ${folder} FILES_MATCHING PATTERN "*.hpp")
file(COPY ${source}/data/digits.csv.gz ${source}/data/karate.edgelist ${source}/data/README.md DESTINATION ${folder}/data)
file(GLOB_RECURSE headers RELATIVE ${folder}/include ${folder}/include/*.hpp)
list(LENGTH headers n)
message(STATUS "vendored ist into ${folder} (${n} headers): add_subdirectory(${folder}) and link ist::ist")
