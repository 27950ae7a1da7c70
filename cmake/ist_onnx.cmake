# Optional ONNX export (docs/onnx.md): the INTERFACE target ist::onnx, created only when Debian's
# libonnx-dev (ONNX's generated protobuf classes, libonnx_proto) and its protobuf are found. It adds
# them and IST_WITH_ONNX=1 to ist::ist; a project that never links ist::onnx needs no ONNX
# installed, and ist stays header-only. Disable with -DIST_WITH_ONNX=OFF.
option(IST_WITH_ONNX "Provide ist::onnx (ist::export_onnx, ist-export) when ONNX is found" ON)
set(IST_HAS_ONNX OFF)
if(IST_WITH_ONNX)
  find_package(Protobuf QUIET)
  if(Protobuf_FOUND)
    find_package(ONNX CONFIG QUIET)  # its targets name protobuf::libprotobuf, so Protobuf first
  endif()
  if(Protobuf_FOUND AND TARGET onnx_proto)
    add_library(ist_onnx INTERFACE)
    add_library(ist::onnx ALIAS ist_onnx)
    target_link_libraries(ist_onnx INTERFACE ist onnx_proto protobuf::libprotobuf)
    target_compile_definitions(ist_onnx INTERFACE IST_WITH_ONNX=1)
    set(IST_HAS_ONNX ON)
    message(STATUS "ist: ONNX ${ONNX_VERSION} and protobuf ${Protobuf_VERSION} found, ist::onnx available")
  else()
    message(STATUS "ist: ONNX not found, ist::onnx and ist-export not built (apt-get install libonnx-dev)")
  endif()
endif()
