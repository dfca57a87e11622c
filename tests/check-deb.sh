#!/bin/sh
# The Debian packages work (`make test-deb`, the last step of `make test`):
# build them with `make deb` (one build, tests not rerun inside), lintian
# finds no error, and, unpacked into a throwaway root with dpkg -x, they
# hold what they should: a program compiled against the installed headers
# through pkg-config runs on the installed library, and the installed
# modelinspect runs (--help, a picture of a graph and of a training log).
# Without the packaging tools (not a Debian system, or `make deps` could
# not install them) it says SKIPPED and exits 0: make has no "skipped".
# Usage: check-deb.sh [OUT_DIR]     (default build-deb)
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
out=${1:-build-deb}
skip() { echo "deb: SKIPPED: $*"; exit 0; }
fail() { echo "deb: FAIL: $*" >&2; exit 1; }

for tool in dpkg-buildpackage dh dpkg-checkbuilddeps lintian; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (make deps installs debhelper, dpkg-dev, lintian)"
done
unmet=$(dpkg-checkbuilddeps -Pnocheck 2>&1) || skip "build dependencies missing: ${unmet#*: }"

start=$(date +%s)
scripts/deb.sh "$out"
built=$(date +%s)
version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib="$out/libckeras0_${version}_$arch.deb"
dev="$out/libckeras-dev_${version}_$arch.deb"
tools="$out/ckeras-tools_${version}_$arch.deb"
for d in "$lib" "$dev" "$tools"; do [ -f "$d" ] || fail "$d was not built"; done

# lintian: errors fail; warnings and the rest are listed
lintian --allow-root --fail-on error -I --pedantic "$out"/ckeras_*.changes > "$out/lintian.txt" 2>&1 ||
    { cat "$out/lintian.txt"; fail "lintian found errors (above)"; }
echo "deb: lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors, $(grep -c '^W:' "$out/lintian.txt" || true) warnings, $(grep -c '^[IPX]:' "$out/lintian.txt" || true) other tags"
grep '^[WIPX]:' "$out/lintian.txt" | sed 's/^/deb:   /' || true

# the relations dh_shlibdeps and the symbols file give
depends_of() { dpkg-deb -f "$1" Depends; }
depends_of "$lib" | grep -q 'libjansson4' || fail "libckeras0 does not depend on libjansson4: $(depends_of "$lib")"
depends_of "$tools" | grep -q "libckeras0 (>= $version)" || fail "ckeras-tools does not depend on libckeras0 (>= $version): $(depends_of "$tools")"
for need in libgvc6 libcairo2; do
    depends_of "$tools" | grep -q "$need" || fail "ckeras-tools does not depend on $need (pictures): $(depends_of "$tools")"
done
dpkg-deb -I "$lib" symbols | grep -q '^ kc_model_load@Base ' || fail "libckeras0 has no symbols file listing kc_model_load"
dpkg-deb -I "$lib" shlibs | grep -q "^libckeras 0 libckeras0" || fail "libckeras0's shlibs: $(dpkg-deb -I "$lib" shlibs)"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
for d in "$lib" "$dev" "$tools"; do dpkg -x "$d" "$root"; done
for f in usr/lib/$multiarch/libckeras.so.0 usr/lib/$multiarch/libckeras.so usr/lib/$multiarch/libckeras.a \
         usr/lib/$multiarch/pkgconfig/ckeras.pc usr/include/ckeras.h usr/include/ckeras/model.h \
         usr/include/ckeras.hpp usr/lib/$multiarch/cmake/ckeras/ckerasConfig.cmake \
         usr/lib/$multiarch/cmake/ckeras/ckerasConfigVersion.cmake \
         usr/bin/modelinspect usr/share/man/man1/modelinspect.1.gz; do
    [ -e "$root/$f" ] || fail "/$f is not in the packages"
done
libdir="$root/usr/lib/$multiarch"
case "$(readlink "$libdir/libckeras.so.0")" in
    libckeras.so.0.*) ;;
    *) fail "libckeras.so.0 points to $(readlink "$libdir/libckeras.so.0")" ;;
esac

# a program built against the installed headers and library, through ckeras.pc
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cflags=$(pkg-config --define-variable=prefix="$root/usr" --cflags ckeras)
libs=$(pkg-config --define-variable=prefix="$root/usr" --libs ckeras)
case "$cflags $libs" in *"$root"*) ;; *) fail "pkg-config did not point into the unpacked root: $cflags $libs" ;; esac
${CC:-cc} -std=c11 -o "$root/tape_demo" "$src/samples/tape_demo.c" $cflags $libs -lm
LD_LIBRARY_PATH="$libdir" ldd "$root/tape_demo" | grep -q "libckeras.so.0 => $libdir/" ||
    fail "the sample does not load the unpacked libckeras.so.0"
LD_LIBRARY_PATH="$libdir" "$root/tape_demo" > "$root/out"
grep -q "tape: *36.000000 *10.000000" "$root/out" || { cat "$root/out"; fail "the sample built on the packages printed the wrong result"; }

# the installed modelinspect: help, and both kinds of picture
mi() { LD_LIBRARY_PATH="$libdir" "$root/usr/bin/modelinspect" "$@"; }
LD_LIBRARY_PATH="$libdir" ldd "$root/usr/bin/modelinspect" | grep -q "libckeras.so.0 => $libdir/" ||
    fail "modelinspect does not load the unpacked libckeras.so.0"
mi --help > "$root/help" || fail "modelinspect --help failed"
grep -q "graph FILE" "$root/help" && grep -q "history FILE.csv" "$root/help" || { cat "$root/help"; fail "modelinspect --help lacks graph and history"; }
mi graph "$src/tests/data/keras/func_conv2d_bn_avgpool_k2.10.0.h5" --show-shapes --dpi 30 -o "$root/g.png" ||
    fail "the packaged modelinspect cannot draw a graph"
printf 'epoch,loss,val_loss\r\n0,1.0,1.2\r\n1,0.5,0.8\r\n' > "$root/log.csv"
mi history "$root/log.csv" --dpi 30 -o "$root/h.png" || fail "the packaged modelinspect cannot draw a training log"
for png in g.png h.png; do
    [ "$(head -c 8 "$root/$png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$png is not a PNG"
done
echo "deb: the packages unpack, a sample builds on them through pkg-config and runs, modelinspect runs and draws"
for d in "$lib" "$dev" "$tools"; do
    printf 'deb:   %-40s %7s bytes, installed %5s kB\n' "$(basename "$d")" "$(stat -c %s "$d")" "$(dpkg-deb -f "$d" Installed-Size)"
done
echo "deb: OK (build $((built - start)) s, checks $(($(date +%s) - built)) s)"
