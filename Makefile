# Thin wrapper over meson: the two commands of the README live here.
#   make demo   install missing Debian packages, build, run the demo
#   make test   install missing Debian packages, set up keras-ref (the
#               TensorFlow.js reference) when ../shared/conformance is there,
#               build, run every test suite, then the same suites again under
#               AddressSanitizer + UBSan, then the MPI suites with parallel
#               HDF5 (when installed), then build the Debian packages and
#               try them (test-deb), and print a summary (TensorFlow.js checks
#               that ran, tests skipped and why, passed/failed/skipped)
#               -- and, before the summary, each fuzz harness for a minute
#   make deb    the Debian packages libckeras0, libckeras-dev, ckeras-tools
#               in build-deb/ (scripts/deb.sh)
#   make fuzz SECONDS=N   build the libFuzzer harnesses (clang) and run each
#               for N seconds (scripts/fuzz.sh, tests/fuzz/README.md)
BUILD      ?= build
ASAN_BUILD ?= build-asan
DEB_BUILD  ?= build-deb
MESON_OPTS ?= -Dbuildtype=release -Dwerror=true
ASAN_OPTS  ?= -Dbuildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
# The MPI build of HDF5 cannot share a process with the serial one: the
# variant that writes checkpoints collectively is a build of its own, where
# only the MPI suites run.
PHDF5_BUILD ?= build-phdf5
# (unoptimized: it only runs the small MPI suites, and compiles in a third of the time)
PHDF5_OPTS  ?= -Dbuildtype=plain -Dwerror=true -Dparallel_hdf5=enabled
CONFORMANCE ?= $(if $(CKERAS_CONFORMANCE_DIR),$(CKERAS_CONFORMANCE_DIR),../shared/conformance)
SECONDS    ?= 60

.PHONY: all build deps conformance test test-plain test-asan test-phdf5 test-deb deb fuzz demo bench clean

all: build

deps:
	@scripts/deps.sh

# keras-ref for the TensorFlow.js checks; when CI=true it must be there.
conformance:
	@scripts/conformance.sh "$(CONFORMANCE)"

$(BUILD)/build.ninja:
	@command -v meson >/dev/null || { echo "meson not found: run 'make deps' first"; exit 1; }
	meson setup $(BUILD) $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) $(ASAN_OPTS)

build: $(BUILD)/build.ninja
	meson compile -C $(BUILD)

test-plain: build
	meson test -C $(BUILD) --print-errorlogs --num-processes 2

test-asan: $(ASAN_BUILD)/build.ninja
	meson compile -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) --setup=asan --print-errorlogs --num-processes 2

test-phdf5:
	@if pkg-config --exists hdf5-openmpi && command -v mpirun >/dev/null 2>&1; then \
	    [ -f $(PHDF5_BUILD)/build.ninja ] || meson setup $(PHDF5_BUILD) $(PHDF5_OPTS) || exit 1; \
	    meson compile -C $(PHDF5_BUILD) test_distributed test_distributed_conformance modelinspect data_parallel && \
	    meson test -C $(PHDF5_BUILD) --no-rebuild --suite mpi --print-errorlogs; \
	else \
	    echo "test-phdf5: SKIPPED: no parallel HDF5 or no mpirun (make deps installs libhdf5-openmpi-dev)"; \
	fi

test: deps
	@scripts/conformance.sh "$(CONFORMANCE)"
	$(MAKE) test-plain
	$(MAKE) test-asan
	$(MAKE) test-phdf5
	$(MAKE) test-deb
	$(MAKE) fuzz SECONDS=60
	@# the parallel build is looked for when the summary runs: in a fresh
	@# checkout it did not exist yet when make read this file
	@scripts/test-summary.py $(BUILD) $(ASAN_BUILD) $$(ls -d $(PHDF5_BUILD) 2>/dev/null)

# Build the packages (one more compile of the library, tests not rerun
# inside), lintian, unpack them with dpkg -x and use them: tests/check-deb.sh.
test-deb:
	@tests/check-deb.sh $(DEB_BUILD)

deb:
	@scripts/deb.sh $(DEB_BUILD)

fuzz:
	@scripts/fuzz.sh $(SECONDS)

demo: deps
	$(MAKE) build
	meson compile -C $(BUILD) demo-run

bench: build
	meson compile -C $(BUILD) bench-run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(PHDF5_BUILD) $(DEB_BUILD) build-fuzz
