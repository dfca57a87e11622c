#!/bin/sh
# `meson install` works: install into a scratch DESTDIR, then build and run a
# program against the installed headers and library through ckeras.pc.
# Usage: check-install.sh BUILD_DIR SOURCE_ROOT
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp" --quiet --no-rebuild >/dev/null
pc=$(find "$tmp" -name ckeras.pc | head -n 1)
man=$(find "$tmp" -path '*/man1/modelinspect.1' | head -n 1)
[ -n "$man" ] || { echo "check-install: the modelinspect.1 man page was not installed" >&2; exit 1; }
[ -n "$pc" ] || { echo "check-install: ckeras.pc was not installed" >&2; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$tmp"
# a sanitizer build's library needs the program built the same way
san=""
if ldd "$(find "$tmp" -name 'libckeras.so' | head -n 1)" | grep -q libasan; then
    san="-fsanitize=address,undefined"
fi
${CC:-cc} -std=c11 $san -o "$tmp/demo" "$src/samples/tape_demo.c" $(pkg-config --cflags --libs ckeras) -lm
libdir=$(dirname "$(find "$tmp" -name 'libckeras.so' | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$tmp/demo" > "$tmp/out"
grep -q "tape: *36.000000 *10.000000" "$tmp/out" || { cat "$tmp/out"; exit 1; }
echo "check-install: installed headers, library and ckeras.pc build and run a program; modelinspect.1 installed"
