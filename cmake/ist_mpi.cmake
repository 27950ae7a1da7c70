# Optional MPI support (docs/cluster.md): the INTERFACE target ist::mpi, created only when an MPI
# C++ implementation is found. It adds MPI::MPI_CXX and IST_WITH_MPI=1 to ist::ist; a project
# that never links ist::mpi needs no MPI installed. Disable with -DIST_WITH_MPI=OFF.
option(IST_WITH_MPI "Provide ist::mpi (MpiTransport) when MPI is found" ON)
set(IST_HAS_MPI OFF)
if(IST_WITH_MPI)
  set(MPI_CXX_SKIP_MPICXX ON)  # the C API only; no deprecated C++ bindings
  find_package(MPI COMPONENTS CXX QUIET)
  if(MPI_CXX_FOUND)
    add_library(ist_mpi INTERFACE)
    add_library(ist::mpi ALIAS ist_mpi)
    target_link_libraries(ist_mpi INTERFACE ist MPI::MPI_CXX)
    target_compile_definitions(ist_mpi INTERFACE IST_WITH_MPI=1)
    set(IST_HAS_MPI ON)
    message(STATUS "ist: MPI ${MPI_CXX_VERSION} found, ist::mpi available (mpiexec: ${MPIEXEC_EXECUTABLE})")
  else()
    message(STATUS "ist: MPI not found, ist::mpi not built (apt-get install libopenmpi-dev openmpi-bin)")
  endif()
endif()
