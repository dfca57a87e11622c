# Thin wrapper over meson: the two commands of the README live here.
#   make demo   install missing Debian packages, build, run the demo
#   make test   install missing Debian packages, build, run every test suite,
#               then the same suites again under AddressSanitizer + UBSan,
#               then build the Debian packages and try them (test-deb)
#   make deb    the Debian packages libckeras0, libckeras-dev, ckeras-tools
#               in build-deb/ (scripts/deb.sh)
BUILD      ?= build
ASAN_BUILD ?= build-asan
DEB_BUILD  ?= build-deb
MESON_OPTS ?= -Dbuildtype=release -Dwerror=true
ASAN_OPTS  ?= -Dbuildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false

.PHONY: all build deps test test-plain test-asan test-deb deb demo bench clean

all: build

deps:
	@scripts/deps.sh

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

test: deps
	$(MAKE) test-plain
	$(MAKE) test-asan
	$(MAKE) test-deb

# Build the packages (one more compile of the library, tests not rerun
# inside), lintian, unpack them with dpkg -x and use them: tests/check-deb.sh.
test-deb:
	@tests/check-deb.sh $(DEB_BUILD)

deb:
	@scripts/deb.sh $(DEB_BUILD)

demo: deps
	$(MAKE) build
	meson compile -C $(BUILD) demo-run

bench: build
	meson compile -C $(BUILD) bench-run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(DEB_BUILD)
