# The two commands of the README. Both install what is missing (Debian 12, apt-get), configure,
# build, then run: `make demo` trains with IST on the embedded data, `make test` runs the suite.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
DEBIAN_PACKAGES := g++ make cmake pkg-config zlib1g-dev libopenblas-dev xtl-dev libxtensor-dev \
  libxtensor-blas-dev doctest-dev libbenchmark-dev openmpi-bin libopenmpi-dev dataset-fashion-mnist gnuplot-nox
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps configure build demo test clean

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	$(BUILD_DIR)/examples/ist-train

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR)

# `make fuzz`: the libFuzzer harnesses of bench/fuzz (docs/fuzzing.md), built with clang in
# build-fuzz and run one after another for FUZZ_SECONDS each on a corpus kept in build-fuzz/corpus.
# clang and libFuzzer's runtime are installed here only, not by `make deps`.
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := csv npy npz idx gzip checkpoint
FUZZ_PACKAGES := clang libclang-rt-14-dev

.PHONY: fuzz
fuzz: deps
	@missing=$$(for p in $(FUZZ_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DIST_FUZZ=ON -DIST_BUILD_TESTS=OFF -DIST_BUILD_EXAMPLES=OFF \
	  -DIST_BUILD_BENCHMARKS=OFF -DIST_INSTALL=OFF -DIST_WITH_MPI=OFF
	cmake --build build-fuzz -j $(JOBS)
	build-fuzz/bench/fuzz/ist_fuzz_seeds build-fuzz/corpus
	mkdir -p build-fuzz/artifacts
	for h in $(FUZZ_HARNESSES); do \
	  echo "== fuzz_$$h for $(FUZZ_SECONDS) s"; \
	  build-fuzz/bench/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/$$h- build-fuzz/corpus/$$h || exit 1; \
	done
