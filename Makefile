# Thin wrapper: dependencies, build, run, test. The real build is CMake (CMakeLists.txt).
SHELL := /bin/bash
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
PYTHON := /usr/bin/python3

# Debian packages the build, the tests and the benchmarks need (DESIGN.md section 3).
PKGS := cmake make g++ clang libclang-rt-14-dev pkg-config ccache \
        libuv1-dev librocksdb-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev \
        libsqlite3-dev sqlite3 libpq-dev postgresql libcurl4-openssl-dev libssl-dev libjemalloc-dev \
        redis-server redis-tools python3 python3-redis python3-pytest python3-hiredis \
        tmux procps util-linux

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build asan run test unit e2e fuzz fuzz-smoke bench clean

all: build

deps:
	@missing=$$(for p in $(PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSTRATA_SANITIZE=ON -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g"

asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)

run: deps build
	conf/demo/build-demo-db.sh
	$(BUILD)/strata-server conf/strata.conf

# Every test: unit and end-to-end, on the optimized build and on the ASan/UBSan build, plus a
# short fuzzing run of the RESP parser.
test: deps build asan
	$(MAKE) --no-print-directory unit BUILD=$(BUILD)
	$(MAKE) --no-print-directory unit BUILD=$(ASAN_BUILD)
	$(MAKE) --no-print-directory e2e BUILD=$(BUILD)
	$(MAKE) --no-print-directory e2e BUILD=$(ASAN_BUILD)
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20

unit:
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

e2e:
	STRATA_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

$(FUZZ_BUILD)/CMakeCache.txt:
	CXX=clang++ CC=clang cmake -S . -B $(FUZZ_BUILD) -DSTRATA_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g"

# The RESP parser gets FUZZ_SECONDS, the JSON reader (invalidation messages) a third of it.
fuzz: $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j$(JOBS)
	mkdir -p $(FUZZ_BUILD)/corpus/resp_parser $(FUZZ_BUILD)/corpus/json
	$(FUZZ_BUILD)/tests/fuzz/resp_parser_fuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  $(FUZZ_BUILD)/corpus/resp_parser tests/fuzz/corpus/resp_parser
	$(FUZZ_BUILD)/tests/fuzz/json_fuzzer -max_total_time=$$(( $(FUZZ_SECONDS) / 3 + 1 )) -max_len=4096 \
	  $(FUZZ_BUILD)/corpus/json tests/fuzz/corpus/json

# Benchmarks print figures (strata vs Debian's redis-server); none asserts a time.
bench: deps build
	bench/vs-redis.sh
	bench/bench-overhead.sh
	bench/cold-storm.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
