# Thin wrapper: dependencies, build, run, test. The real build is CMake (CMakeLists.txt).
SHELL := /bin/bash
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 300
PYTHON := /usr/bin/python3

# Debian packages, per command (DESIGN.md section 3): each command installs what it uses and no
# more; `make deps` installs them all. tests/check_deps.py (run first by `make test`) checks these
# lists against what the code really uses, both ways.
BUILD_PKGS := cmake make g++ pkg-config ccache \
        libuv1-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev \
        libsqlite3-dev libpq-dev libcurl4-openssl-dev libjemalloc-dev liblz4-dev librocksdb-dev \
        liblua5.1-0-dev lua-cjson-dev lua-bitop-dev prometheus-cpp-dev libssl-dev
RUN_PKGS := sqlite3
TEST_PKGS := python3 python3-redis python3-pytest python3-hiredis redis-server redis-tools postgresql \
        gnuplot-nox python3-prometheus-client prometheus prometheus-redis-exporter openssl
BENCH_PKGS := python3 python3-redis redis-server redis-tools postgresql util-linux valgrind openssl
FUZZ_PKGS := cmake make clang libclang-rt-14-dev ccache libabsl-dev pkg-config liblua5.1-0-dev liblz4-dev
PKGS := $(sort $(BUILD_PKGS) $(RUN_PKGS) $(TEST_PKGS) $(BENCH_PKGS) $(FUZZ_PKGS))

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps deps-build deps-run deps-test deps-bench deps-fuzz print-packages check-deps build asan run test unit e2e diff-soak fuzz bench clean

all: build

# install-packages LIST: installs those of LIST that are missing (apt-get update only if some are).
define install-packages
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install-packages,$(PKGS))
deps-build:
	$(call install-packages,$(BUILD_PKGS))
deps-run:
	$(call install-packages,$(BUILD_PKGS) $(RUN_PKGS))
deps-test:  # make test also runs make fuzz
	$(call install-packages,$(BUILD_PKGS) $(TEST_PKGS) $(FUZZ_PKGS))
deps-bench:
	$(call install-packages,$(BUILD_PKGS) $(BENCH_PKGS))
deps-fuzz:
	$(call install-packages,$(FUZZ_PKGS))

# The lists, one per line ("test: python3 ..."), for tests/check_deps.py.
print-packages:
	@echo "build: $(BUILD_PKGS)"; echo "run: $(RUN_PKGS)"; echo "test: $(TEST_PKGS)"; \
	echo "bench: $(BENCH_PKGS)"; echo "fuzz: $(FUZZ_PKGS)"

# Every program, module, header and library the code uses comes from the lists above.
check-deps: deps-test
	$(PYTHON) tests/check_deps.py

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSTRATA_SANITIZE=ON -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g"

asan: deps-build $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)

run: deps-run build
	conf/demo/build-demo-db.sh
	$(BUILD)/strata-server conf/strata.conf

# Every test: unit and end-to-end, on the optimized build and on the ASan/UBSan build, plus a
# short fuzzing run of the RESP parser.
test: check-deps build asan
	$(MAKE) --no-print-directory unit BUILD=$(BUILD)
	$(MAKE) --no-print-directory unit BUILD=$(ASAN_BUILD)
	$(MAKE) --no-print-directory e2e BUILD=$(BUILD)
	$(MAKE) --no-print-directory e2e BUILD=$(ASAN_BUILD)
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20

unit:
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

e2e:
	STRATA_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

# The differential tests against redis-server with DIFF_SCALE times the seeds (new ones), on
# the ASan/UBSan build: the long mode of what `make test` runs at scale 1.
DIFF_SCALE ?= 10
diff-soak: deps-test asan
	STRATA_BUILD=$(abspath $(ASAN_BUILD)) STRATA_DIFF_SCALE=$(DIFF_SCALE) $(PYTHON) -m pytest -q -p no:cacheprovider \
	  tests/e2e/test_differential.py tests/e2e/test_differential_lists.py tests/e2e/test_differential_sets.py \
	  tests/e2e/test_differential_hashes.py tests/e2e/test_differential_zsets.py tests/e2e/test_differential_bitmaps.py \
	  tests/e2e/test_differential_hyperloglog.py tests/e2e/test_differential_sort.py tests/e2e/test_blocking.py \
  tests/e2e/test_differential_scripting.py tests/e2e/test_differential_spill.py

$(FUZZ_BUILD)/CMakeCache.txt:
	CXX=clang++ CC=clang cmake -S . -B $(FUZZ_BUILD) -DSTRATA_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g"

# The RESP parser gets FUZZ_SECONDS, the JSON reader (invalidation messages), the Lua decoders
# (cmsgpack, struct) and the spill record decoder a third of it each.
fuzz: deps-fuzz $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j$(JOBS)
	mkdir -p $(FUZZ_BUILD)/corpus/resp_parser $(FUZZ_BUILD)/corpus/json
	$(FUZZ_BUILD)/tests/fuzz/resp_parser_fuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  $(FUZZ_BUILD)/corpus/resp_parser tests/fuzz/corpus/resp_parser
	$(FUZZ_BUILD)/tests/fuzz/json_fuzzer -max_total_time=$$(( $(FUZZ_SECONDS) / 3 + 1 )) -max_len=4096 \
	  $(FUZZ_BUILD)/corpus/json tests/fuzz/corpus/json
	mkdir -p $(FUZZ_BUILD)/corpus/lua_libs
	$(FUZZ_BUILD)/tests/fuzz/lua_libs_fuzzer -max_total_time=$$(( $(FUZZ_SECONDS) / 3 + 1 )) -max_len=4096 \
	  $(FUZZ_BUILD)/corpus/lua_libs tests/fuzz/corpus/lua_libs
	mkdir -p $(FUZZ_BUILD)/corpus/spill_record
	$(FUZZ_BUILD)/tests/fuzz/spill_record_fuzzer -max_total_time=$$(( $(FUZZ_SECONDS) / 3 + 1 )) -max_len=4096 \
	  $(FUZZ_BUILD)/corpus/spill_record tests/fuzz/corpus/spill_record

# Benchmarks print figures (strata vs Debian's redis-server); none asserts a time.
bench: deps-bench build
	bench/vs-redis.sh
	bench/scripting-vs-redis.sh
	bench/bench-overhead.sh
	bench/cold-storm.sh
	bench/eviction-vs-redis.sh
	bench/policy-cpu.sh
	bench/pubsub-vs-redis.sh
	bench/invalidation-vs-redis.sh
	bench/tracking-cost.sh
	bench/path-instructions.sh
	bench/spill-vs-redis.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
