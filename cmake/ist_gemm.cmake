# IST_GEMM: the backend of every GEMM of the library (include/ist/detail/gemm.hpp).
#   onednn    oneDNN matmul primitives (Debian: libdnnl-dev), refused when oneDNN is not installed
#   openblas  cblas_sgemm of the BLAS found above
#   (empty)   oneDNN when installed, else OpenBLAS
# Sets IST_GEMM to the backend chosen. With oneDNN, ist::ist links DNNL::dnnl and libgomp: Debian's
# oneDNN runs on OpenMP, and ist sets the OpenMP thread count of each calling thread itself.
set(IST_GEMM "" CACHE STRING "GEMM backend: onednn or openblas (empty: oneDNN when installed, else OpenBLAS)")
set_property(CACHE IST_GEMM PROPERTY STRINGS "" onednn openblas)
if(NOT IST_GEMM MATCHES "^(|onednn|openblas)$")
  message(FATAL_ERROR "IST_GEMM='${IST_GEMM}' is not one of onednn, openblas (or empty for oneDNN when installed)")
endif()
if(NOT IST_GEMM STREQUAL "openblas")
  if(IST_GEMM STREQUAL "onednn")
    find_package(dnnl 2.6 CONFIG REQUIRED)
  else()
    find_package(dnnl 2.6 CONFIG QUIET)
  endif()
  if(dnnl_FOUND AND NOT DNNL_CPU_THREADING_RUNTIME STREQUAL "OMP")
    message(FATAL_ERROR "ist's oneDNN backend needs oneDNN built with OpenMP threading; this one (${dnnl_DIR}) "
                        "uses ${DNNL_CPU_THREADING_RUNTIME}: configure with -DIST_GEMM=openblas")
  endif()
  if(dnnl_FOUND)
    set(IST_GEMM onednn)
  else()
    set(IST_GEMM openblas)
  endif()
endif()
message(STATUS "ist: GEMM backend ${IST_GEMM}")
