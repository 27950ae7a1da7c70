# Installs onnxruntime's CPU build for node (the npm package onnxruntime-node, whose postinstall,
# skipped with --ignore-scripts, would only try to download a GPU build) into DIR, for the ctests
# "onnx: ..." (docs/onnx.md). A failed install (no registry reachable) is a warning, not a failed
# build: those tests then say "skipped" and why.
#   cmake -DNPM=npm -DDIR=<build>/tests/onnx/onnxruntime -P install_onnxruntime.cmake
set(package onnxruntime-node@1.20.1)
file(MAKE_DIRECTORY ${DIR})
execute_process(COMMAND ${NPM} install --ignore-scripts --no-audit --no-fund --no-save --prefix ${DIR} ${package}
                RESULT_VARIABLE failed OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(failed)
  message(WARNING "npm install ${package} into ${DIR} failed; the onnx ctests will be skipped:\n${output}")
  file(WRITE ${DIR}/install.log "npm install ${package} failed:\n${output}")
else()
  file(WRITE ${DIR}/install.log "installed ${package}\n")
endif()
