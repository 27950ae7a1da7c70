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
