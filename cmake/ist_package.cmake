# The packages of a release (docs/install.md), built by CPack from the install rules:
#   libist-dev_<version>_all.deb    component dev: headers, CMake package, ist.pc, data, docs. ist is
#                                   header-only, so the package is architecture-independent (`all`).
#   ist-tools_<version>_<arch>.deb  component tools: the command-line programs (compiled: per architecture)
#   ist-<version>.tar.gz            the source tree (cpack --config CPackSourceConfig.cmake)
# `make package` builds them in build-package (the programs without -march=native, looking for the
# data in /usr/share/ist); tests/package checks them as a user installs them.
# cpack installs what is built and builds nothing: without this it first builds the target `all` (every
# example, test and benchmark: half an hour here) through the `preinstall` target. `make package`
# builds the target ist-tools first; `cmake --build build && cmake --install build` as before.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_PACKAGE_NAME ist)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Each package's Description is its component's: a synopsis line, then the long text. CPackDeb would put
# a common synopsis above both unless the summary is CPack's default, so it is left at that default.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(IST_PACKAGE_MAINTAINER "The ist developers <maintainers@users.noreply.r-seed-6aa3185c.example>" CACHE STRING
    "Maintainer field of the Debian packages")
mark_as_advanced(IST_PACKAGE_MAINTAINER)
set(CPACK_PACKAGE_CONTACT "${IST_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES ON)  # the programs; Debian ships debug symbols apart

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL dev tools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <package>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

# Debian 12's packages. The headers need xtensor 0.24 or 0.25 (CMakeLists.txt refuses 0.26), its BLAS
# bindings, nlohmann-json (model files), OpenBLAS (BLA_VENDOR), zlib, and oneDNN when this build's GEMM backend is oneDNN
# (istConfig.cmake and ist.pc then link it). MPI is optional (find_package(ist COMPONENTS mpi)).
set(ist_dev_depends
  "xtl-dev (>= ${IST_XTL_MIN_VERSION})"
  "libxtensor-dev (>= ${IST_XTENSOR_MIN_VERSION})" "libxtensor-dev (<< 0.26)"
  "libxtensor-blas-dev (>= ${IST_XTENSOR_BLAS_MIN_VERSION})"
  "nlohmann-json3-dev (>= 3.10)" "libopenblas-dev" "zlib1g-dev")
if(IST_GEMM STREQUAL "onednn")
  list(APPEND ist_dev_depends "libdnnl-dev (>= 2.6)")
endif()
list(JOIN ist_dev_depends ", " ist_dev_depends)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libist-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${ist_dev_depends}")
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "cmake (>= 3.20) | pkg-config")
set(CPACK_DEBIAN_DEV_PACKAGE_SUGGESTS "libopenmpi-dev, ist-tools (= ${PROJECT_VERSION})")
set(CPACK_COMPONENT_DEV_DESCRIPTION "Independent Subnet Training for C++20 (header-only library)
ist trains neural networks with Independent Subnet Training (IST): the
network is cut into disjoint subnets, each trained on its own worker for a
few local steps, then reassembled. ResIST (residual networks), GIST (graph
convolutional networks), overlapping masks, quantised exchange, MPI and
threads transports; data parallel and local SGD as baselines.

This package holds the headers, the CMake package (find_package(ist 0.2)),
the pkg-config file, the bundled data sets and the documentation.")

# The programs' shared libraries (OpenBLAS, oneDNN, OpenMPI, zlib, libstdc++) as dpkg-shlibdeps finds them.
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME ist-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION science)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SHLIBDEPS ON)
# gist-train --data karate reads /usr/share/ist/karate.edgelist, which libist-dev installs.
set(CPACK_DEBIAN_TOOLS_PACKAGE_RECOMMENDS "libist-dev (= ${PROJECT_VERSION})")
# ist-export where this build has ONNX (examples/cli/CMakeLists.txt).
if(TARGET ist-export)
  set(ist_tools_last ", ist-loft\nand ist-export (model files as ONNX).")
else()
  set(ist_tools_last " and ist-loft.")
endif()
set(CPACK_COMPONENT_TOOLS_DESCRIPTION "Independent Subnet Training for C++20 (command-line programs)
ist trains neural networks with Independent Subnet Training (IST): the
network is cut into disjoint subnets, each trained on its own worker for a
few local steps, then reassembled.

This package holds the programs: ist-train, ist-predict, resist-train,
gist-train, transformer-train, xml-train, wordnet-xml${ist_tools_last}")

# The source tarball: what git tracks, without build trees and caches.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_PACKAGE_FILE_NAME ist-${PROJECT_VERSION})
set(CPACK_SOURCE_IGNORE_FILES "^${PROJECT_SOURCE_DIR}/\\\\.git" "^${PROJECT_SOURCE_DIR}/build[^/]*/" "/__pycache__/" "\\\\.pyc$" "~$")

include(CPack)
