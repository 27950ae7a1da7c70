# The two commands of the README. Both install what is missing (Debian 12, apt-get), configure,
# build, then run: `make demo` trains with IST on the embedded data, `make test` runs the suite.
# wordnet-base (WordNet 3.0) is for the tests and programs of the text tasks; the library does not need it.
# lintian checks the Debian packages (ctest package.lintian, make package); dpkg-dev has dpkg-shlibdeps,
# which finds the Depends of ist-tools.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
DEBIAN_PACKAGES := g++ make cmake pkg-config zlib1g-dev libopenblas-dev libdnnl-dev xtl-dev libxtensor-dev \
  libxtensor-blas-dev nlohmann-json3-dev libcli11-dev doctest-dev libbenchmark-dev openmpi-bin libopenmpi-dev dataset-fashion-mnist gnuplot-nox python3 \
  wordnet-base libonnx-dev python3-onnx nodejs lintian dpkg-dev
# npm (onnxruntime-node for the onnx ctests, docs/onnx.md) only where no npm is installed: a nodejs from
# outside Debian may ship npm itself and conflict with Debian's npm package.
NPM_PACKAGE := $(if $(shell command -v npm),,npm)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps configure build demo test check check-asan check-tsan clean

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES) $(NPM_PACKAGE); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# IST_GEMM=openblas|onednn picks the GEMM backend (default: oneDNN, which deps installs; docs/install.md).
GEMM_CMAKE := $(if $(IST_GEMM),-DIST_GEMM=$(IST_GEMM))

# COMPILE_TIMES=1 (with make test, docs-check, check-asan or check-tsan): every compile and link of
# the build logs its CPU time (user+sys) in <build dir>/compile-times.txt through tools/compile-time,
# without ccache; `tools/compile-time --report build-asan/compile-times.txt` prints the total and the
# costliest. The build directory keeps that launcher until it is deleted (docs/install.md, "CI").
times_cmake = $(if $(COMPILE_TIMES),-DCMAKE_CXX_COMPILER_LAUNCHER="$(CURDIR)/tools/compile-time;$(abspath $(1))/compile-times.txt" \
  -DCMAKE_CXX_LINKER_LAUNCHER="$(CURDIR)/tools/compile-time;$(abspath $(1))/compile-times.txt")

# A list as one CMake argument (IST_TARGET_GROUP, CMakeLists.txt): a;b;c.
empty :=
cmake_list = $(subst $(empty) $(empty),;,$(strip $(1)))

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(GEMM_CMAKE) $(call times_cmake,$(BUILD_DIR))

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Only the program the demo runs, not every test and benchmark (those are minutes on a fresh machine).
demo: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target ist-train
	$(BUILD_DIR)/examples/ist-train
	@echo "ist-train is $(abspath $(BUILD_DIR))/examples/ist-train (run it with --help for its options)"

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# `make check`: the suite under sanitizers, each in a build directory of its own (debug info, -Og).
# ASan+UBSan: every test program (ist_tests_<area>) and the command-line programs (examples/cli) the
# ctests run; not the 17 feature examples of examples/*.cpp (~12 of its ~37 CPU-minutes of build,
# ~2 of its test runs): every library function they define is also in an ASan+UBSan test or
# command-line program (nm of the binaries, docs/install.md "CI"), so left out is only their own
# code (a user layer, partitioner, callback) under the sanitizers; the Release suite (make test)
# still builds and runs each. TSan: the tests that train on worker
# threads (ThreadsTransport); tests/tsan.supp is for system-library false positives only. TSan
# runs OpenBLAS single-threaded: its own thread pool hands work over through spin flags TSan
# cannot see (a GEMM on the main thread, e.g. an evaluation, showed as a race with OpenBLAS's
# pool thread in sgemm_beta); our worker threads already run OpenBLAS with one thread each.
# OPENBLAS_NUM_THREADS=1 also runs the oneDNN backend (the default) single-threaded, so no OpenMP
# thread (libgomp is not instrumented either) ever starts; TSan checks the concurrent GEMMs of
# the worker threads and the per-thread primitive caches (ist_tests_detail's "gemm threads:" cases,
# in fp32 and bf16, whose operands are converted in buffers of each thread; ist_tests_train's
# "precision:" cases train in bf16 on worker threads).
# No suppression for libdnnl: its primitive cache, synchronised where TSan cannot see it, is only
# entered under a mutex of ours (ist/detail/gemm_onednn.hpp's creation_mutex).
# The sanitizers check the default backend, oneDNN, everywhere; OpenBLAS's calls are checked by
# tests/detail/test_gemm.cpp, which runs both, so the gemm-openblas.* reruns of whole areas are left out.
# Neither builds the consumer projects (IST_INSTALL=OFF), the benchmarks, the MPI tests or the feature examples.
# -g1 (line tables only): reports keep function, file and line, and a test TU compiles in ~0.7 of
# -g's time (67 -> 47 s CPU for tests/train/test_baselines.cpp under ASan), the largest part of CI.
# -Og, not -O1: the instrumented builds are CI's largest part and their compile is most of it.
# Under ASan+UBSan (GCC 12, user+sys CPU): tests/model_files as one unity TU 81.9 -> 55.2 s,
# examples/cli/ist_predict.cpp 86.7 -> 71.2 s (user 84.8 -> 63.5); their runs cost more (that
# ist-predict scoring 36k CSV rows: 1.36 -> 1.70 s user), but the instrumented test runs are ~3
# CPU-minutes of CI (ctest's cost data), the builds most of it. The sanitizers check the same code.
SAN_CMAKE := -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-Og -g1" -DIST_BUILD_BENCHMARKS=OFF \
  -DIST_INSTALL=OFF -DIST_WITH_MPI=OFF -DIST_BUILD_FEATURE_EXAMPLES=OFF
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
TSAN_TESTS ?= ^(trainer|baselines|transport|checkpoint|faults|resist|gist|wire|gemm threads|precision):
# The programs holding those cases (ist_tests_io has none since the checkpoint tests moved to train/).
TSAN_TARGETS := ist_tests_train ist_tests_transport ist_tests_partition ist_tests_detail
# Cases of those topics that start no thread, so TSan (races between threads) has nothing to check
# in them: the ResNet gradient check, 86 s under TSan (ctest's cost data), the longest TSan case.
# It runs in the Release suite and under ASan+UBSan.
TSAN_SINGLE_THREADED ?= ^resist: gradients through residual blocks
# Left out under sanitizers: it runs ist-train (60 rounds, 512 wide) eight times, which an
# instrumented build (5-10x slower) makes too long for CI; it has no code of its own to check.
SAN_SKIP ?= ^checkpoint: a process killed with SIGKILL|^gemm-openblas\.

check: check-asan check-tsan

check-asan: deps
	cmake -S . -B build-asan $(SAN_CMAKE) -DCMAKE_CXX_FLAGS="$(ASAN_FLAGS)" $(call times_cmake,build-asan)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure --no-tests=error -j $(JOBS) \
	  -E '$(SAN_SKIP)'

check-tsan: deps
	cmake -S . -B build-tsan $(SAN_CMAKE) -DCMAKE_CXX_FLAGS="$(TSAN_FLAGS)" $(call times_cmake,build-tsan) \
	  -DIST_TARGET_GROUP="$(call cmake_list,$(TSAN_TARGETS))"
	cmake --build build-tsan -j $(JOBS) --target ist_target_group
	cd build-tsan && OPENBLAS_NUM_THREADS=1 \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure --no-tests=error -j $(JOBS) -R '$(TSAN_TESTS)' -E '$(SAN_SKIP)$(if $(TSAN_SINGLE_THREADED),|$(TSAN_SINGLE_THREADED))'

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-docs

# `make docs-check` (CI): re-runs every command a page of README.md / docs/ writes beside a number
# (<!-- docs-check: ... --> blocks: deterministic runs, errors, --help lists) and fails on any
# difference. `make docs-update` rewrites those blocks from today's binaries; `make docs-timing`
# regenerates the timing blocks (<!-- docs-timing: ... -->, never in CI) and stamps date and load.
# check and update run the blocks on JOBS workers (docs_check.py --jobs), each block's output compared
# alone and reported in page order; timing runs them one at a time.
# The programs are built for this in build-docs without -march=native and run with OpenBLAS's
# Haswell kernels, so the same numbers come out on every x86-64 machine with AVX2 (a native build
# or OpenBLAS's per-CPU kernel choice changes the last bits of sums, and with them accuracies).
# It is pinned to the OpenBLAS GEMM backend (IST_GEMM=openblas): oneDNN compiles its kernels for
# the CPU it finds (AVX-512 here, AVX2 elsewhere), so its sums, and the numbers, differ by machine.
# Timings come from the normal, native build. -O2, not -O3: a quarter less compile time, and the same
# numbers (neither level reorders floating-point sums without -ffast-math).
DOCS_PROGRAMS := ist-train ist-predict resist-train gist-train ist-bench ist-load-bench gist-memory custom_layer \
  ist-loft ist-fed-bench ist-quant-bench transformer-train xml-train wordnet-xml ist-export
# onnxruntime-node (npm, as the onnx ctests install it) for the ONNX half of tests/docs/model_file_flow.sh,
# installed once into build-docs/onnxruntime (a failed install is not retried; the flow then says skipped).
DOCS_ONNXRUNTIME := $(CURDIR)/build-docs/onnxruntime
DOCS_ENV := OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 IST_ONNXRUNTIME=$(DOCS_ONNXRUNTIME)
.PHONY: docs-check docs-update docs-timing docs-build
docs-build: deps
	cmake -S . -B build-docs -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DIST_NATIVE=OFF \
	  -DIST_BUILD_TESTS=OFF -DIST_INSTALL=OFF -DIST_GEMM=openblas $(call times_cmake,build-docs) \
	  -DIST_TARGET_GROUP="$(call cmake_list,$(DOCS_PROGRAMS))"
	cmake --build build-docs -j $(JOBS) --target ist_target_group
	if command -v npm >/dev/null && [ ! -e $(DOCS_ONNXRUNTIME)/install.log ]; then \
	  cmake -DNPM=$$(command -v npm) -DDIR=$(DOCS_ONNXRUNTIME) -P tests/onnx/install_onnxruntime.cmake; fi
# PAGES=docs/gist.md (or several): check only those pages' blocks.
docs-check: docs-build
	$(DOCS_ENV) /usr/bin/python3 tests/docs/docs_check.py check --build build-docs --jobs $(JOBS) $(PAGES)
docs-update: docs-build
	$(DOCS_ENV) /usr/bin/python3 tests/docs/docs_check.py update --build build-docs --jobs $(JOBS)
docs-timing: build
	/usr/bin/python3 tests/docs/docs_check.py timing --build $(BUILD_DIR)

# `make mutate` (not in CI, long): one-line mutations of the core rules (tests/mutation/), each
# built and tested in a scratch worktree; prints killed / survived. ONLY=1,4,7-9 runs a subset.
# Two scratch trees side by side, one build job each: the whole list in about half the time on 2 cores.
MUTATE_ARGS ?= --parallel 2 --jobs 1
.PHONY: mutate
mutate: deps
	/usr/bin/python3 tests/mutation/mutate.py $(MUTATE_ARGS) $(if $(ONLY),--only $(ONLY))

# `make fuzz`: the libFuzzer harnesses of tests/fuzz (docs/fuzzing.md), built with clang in
# build-fuzz and run one after another for FUZZ_SECONDS each (10 minutes by default; e.g.
# `make fuzz FUZZ_SECONDS=60` for a quick pass) on a corpus kept in build-fuzz/corpus, started from
# the committed seeds of tests/fuzz/corpus. clang and libFuzzer's runtime are installed here only,
# not by `make deps`. The harnesses parse files and compute no products: OpenBLAS backend (IST_GEMM).
FUZZ_SECONDS ?= 600
FUZZ_HARNESSES := csv npy npz idx gzip checkpoint edge_list csr
FUZZ_HARNESSES += xml
FUZZ_PACKAGES := clang libclang-rt-14-dev

.PHONY: fuzz
fuzz: deps
	@missing=$$(for p in $(FUZZ_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DIST_FUZZ=ON -DIST_BUILD_TESTS=OFF -DIST_BUILD_EXAMPLES=OFF \
	  -DIST_BUILD_BENCHMARKS=OFF -DIST_INSTALL=OFF -DIST_WITH_MPI=OFF -DIST_GEMM=openblas
	cmake --build build-fuzz -j $(JOBS)
	mkdir -p build-fuzz/corpus && cp -rn tests/fuzz/corpus/. build-fuzz/corpus/
	mkdir -p build-fuzz/artifacts
	for h in $(FUZZ_HARNESSES); do \
	  echo "== fuzz_$$h for $(FUZZ_SECONDS) s"; \
	  build-fuzz/tests/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/$$h- build-fuzz/corpus/$$h || exit 1; \
	done

# `make peers` (bench only, not part of `make deps`): the real-process peer table of
# docs/benchmarks.md, bench/peers.sh: ist IST and data parallel over `mpirun -np 2` against the
# PyTorch reference IST and PyTorch DDP (Debian's python3-torch, installed here only).
PEERS_PACKAGES := python3-torch openmpi-bin libopenmpi-dev dataset-fashion-mnist

.PHONY: peers peers-deps
peers-deps: deps
	@missing=$$(for p in $(PEERS_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR) -j $(JOBS) --target ist-train
peers: peers-deps
	bench/peers.sh $(BUILD_DIR)

# `make cluster-bench` (bench only, root, a quiet machine): the peer comparison on real links, S = 2 nodes
# of an emulated cluster (tools/ist-cluster; docs/cluster.md), journalled in CLUSTER_JOURNAL so the table
# grows over several sittings; runs already there are not repeated. CLUSTER_BENCH_ARGS: e.g.
# "--links 1gbit --nets 3 --max-runs 6", or "--report" for the table alone.
CLUSTER_JOURNAL ?= docs/bench/cluster-runs.jsonl
CLUSTER_BENCH_ARGS ?=

.PHONY: cluster-bench
cluster-bench: peers-deps
	$(SUDO) /usr/bin/python3 bench/cluster_bench.py --build $(BUILD_DIR) --journal $(CLUSTER_JOURNAL) $(CLUSTER_BENCH_ARGS)

# `make xml-grid` (hours of CPU; accuracies only, so the load does not matter): issue 34's extreme-classification
# grid (bench/xml_grid.py, docs/extreme.md), journalled in XML_JOURNAL so that it grows over several sittings;
# runs already there are not repeated. XML_GRID_ARGS: e.g. "--max-runs 2", or "--report" for the table alone.
XML_JOURNAL ?= docs/bench/xml-runs.jsonl
XML_GRID_ARGS ?=

.PHONY: xml-grid
xml-grid: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target xml-train
	nice -n 10 /usr/bin/python3 bench/xml_grid.py --build $(BUILD_DIR) --journal $(XML_JOURNAL) \
	  $(if $(IST_GEMM),--gemm $(IST_GEMM)) $(XML_GRID_ARGS)

# `make xml-full` (tens of CPU-hours, over many sittings: docs/extreme.md's plan): the same grid on the whole
# WordNet task (147,306 labels) under 1 GiB per worker, journalled in XML_FULL_JOURNAL. A sitting stopped
# mid-run leaves the run's checkpoint in $(BUILD_DIR)/xml-grid-resume; the next goes on from it.
XML_FULL_JOURNAL ?= docs/bench/xml-full-runs.jsonl
XML_FULL_CELLS ?= data-parallel:455:4,data-parallel:1024:4,ist:2560:4

.PHONY: xml-full
xml-full:
	$(MAKE) xml-grid XML_JOURNAL=$(XML_FULL_JOURNAL) \
	  XML_GRID_ARGS="--max-labels 0 --memory-budget 1 --cells $(XML_FULL_CELLS) $(XML_GRID_ARGS)"

# `make wordnet-xml`: WordNet's reverse-dictionary task in the Extreme Classification Repository
# format ($(BUILD_DIR)/wordnet-xml.{train,test,features,labels}.txt; docs/extreme.md). deps installs wordnet-base.
.PHONY: wordnet-xml
wordnet-xml: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target wordnet-xml
	$(BUILD_DIR)/examples/wordnet-xml --out $(BUILD_DIR)/wordnet-xml

# `make transformer-plot`: docs/bench/transformer-accuracy.png, accuracy vs time (measured here and
# under the network model) from the CSV logs of transformer-train --curve in docs/bench (the commands
# that wrote them are in docs/transformers.md). gnuplot-nox is installed here only.
TRANSFORMER_PLOT_PACKAGES := gnuplot-nox
TRANSFORMER_CURVES ?= docs/bench/transformer-s2.csv docs/bench/transformer-s4.csv

.PHONY: transformer-plot
transformer-plot:
	@missing=$$(for p in $(TRANSFORMER_PLOT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	gnuplot -e "files='$(TRANSFORMER_CURVES)'; labels='S=2 S=4'; out='docs/bench/transformer-accuracy.png'" \
	  bench/plot_transformer.gp

# `make package`: the release (docs/install.md) in $(PACKAGE_DIR)/packages: libist-dev_<version>_all.deb
# (headers, CMake package, ist.pc, data, docs), ist-tools_<version>_<arch>.deb (the programs) and the
# source tarball ist-<version>.tar.gz. A build directory of its own, because a package's programs must
# run on any x86-64 (no -march=native) and find the data where libist-dev puts it (/usr/share/ist);
# only those programs compile (target ist-tools), no test, example or benchmark. lintian reports on
# the two packages at the end (tests/package/lintian.sh explains the tags it accepts).
# `make vendor`: the folder to copy into another project and add_subdirectory() (VENDOR_DIR/ist).
PACKAGE_DIR ?= build-package
VENDOR_DIR ?= build/vendor
.PHONY: package vendor
package: deps
	cmake -S . -B $(PACKAGE_DIR) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DIST_NATIVE=OFF \
	  -DIST_BUILD_TESTS=OFF -DIST_BUILD_BENCHMARKS=OFF -DIST_BUILD_DATA_DIR=/usr/share/ist $(GEMM_CMAKE)
	cmake --build $(PACKAGE_DIR) -j $(JOBS) --target ist-tools
	cd $(PACKAGE_DIR) && cpack && cpack --config CPackSourceConfig.cmake
	sh tests/package/lintian.sh $(PACKAGE_DIR)/packages
	@ls -l $(PACKAGE_DIR)/packages/*.deb $(PACKAGE_DIR)/packages/*.tar.gz
vendor:
	cmake -DDEST=$(VENDOR_DIR) -P cmake/ist_vendor.cmake
