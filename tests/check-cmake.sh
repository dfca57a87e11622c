#!/bin/sh
# The CMake package works: install into a scratch DESTDIR (meson install
# --destdir), then configure and build tests/cmake (find_package(ckeras 0.1),
# ckeras::ckeras; C, and C++ through ckeras.hpp when CMake finds a C++
# compiler) against it and run the programs; find_package(ckeras 1.0) must
# fail (the version file). Without cmake it says SKIPPED (exit 77).
# Usage: check-cmake.sh BUILD_DIR SOURCE_ROOT
set -eu
build=$1
src=$2
command -v cmake >/dev/null 2>&1 || { echo "check-cmake: SKIPPED: cmake is not installed (make deps installs it)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --quiet --no-rebuild >/dev/null
config=$(find "$tmp/root" -name ckerasConfig.cmake | head -n 1)
[ -n "$config" ] || { echo "check-cmake: ckerasConfig.cmake was not installed" >&2; exit 1; }
[ -f "$(dirname "$config")/ckerasConfigVersion.cmake" ] || { echo "check-cmake: no ckerasConfigVersion.cmake" >&2; exit 1; }
prefix=$(find "$tmp/root" -name ckeras.h -path '*/include/ckeras.h' | head -n 1)
prefix=$(dirname "$(dirname "$prefix")")
lib=$(find "$tmp/root" -name 'libckeras.so' | head -n 1)
# a sanitizer build's library needs the programs built the same way
san=""
if ldd "$lib" | grep -q libasan; then san="-fsanitize=address,undefined"; fi
cmake -S "$src/tests/cmake" -B "$tmp/out" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="$san" -DCMAKE_CXX_FLAGS="$san" > "$tmp/configure.log" 2>&1 ||
    { cat "$tmp/configure.log"; echo "check-cmake: configuring the consumer failed" >&2; exit 1; }
cmake --build "$tmp/out" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; echo "check-cmake: building failed" >&2; exit 1; }
export LD_LIBRARY_PATH="$(dirname "$lib")"
"$tmp/out/consumer"
if [ -x "$tmp/out/consumer_cpp" ]; then "$tmp/out/consumer_cpp"; else echo "check-cmake: no C++ compiler: consumer_cpp not built"; fi
if cmake -S "$src/tests/cmake" -B "$tmp/out1" -DCMAKE_PREFIX_PATH="$prefix" -DCKERAS_WANT=1.0 > "$tmp/v1.log" 2>&1; then
    echo "check-cmake: find_package(ckeras 1.0) accepted version $(grep -o '0\.[0-9.]*' "$tmp/v1.log" | head -n 1)" >&2
    exit 1
fi
grep -q "with requested version \"1.0\"" "$tmp/v1.log" || { cat "$tmp/v1.log"; echo "check-cmake: 1.0 refused for another reason" >&2; exit 1; }
echo "check-cmake: find_package(ckeras 0.1) and ckeras::ckeras build and run a program; ckeras 1.0 is refused"
