#!/bin/sh
# make deb: the Debian packages libckeras0, libckeras-dev and ckeras-tools,
# built from a copy of the tree (the files git knows, as they are in the
# work tree, or everything but build directories outside git) so that
# dpkg-buildpackage writes its results into OUT_DIR, not next to the
# checkout. The test suite is not run inside (DEB_BUILD_OPTIONS=nocheck
# unless you set DEB_BUILD_OPTIONS yourself): `make test` runs it.
# Usage: scripts/deb.sh [OUT_DIR]     (default build-deb)
set -eu
cd "$(dirname "$0")/.."
out=${1:-build-deb}
for tool in dpkg-buildpackage dh dpkg-checkbuilddeps; do
    command -v "$tool" >/dev/null 2>&1 || { echo "deb: $tool not found: run 'make deps' (debhelper, dpkg-dev)" >&2; exit 1; }
done
version=$(sed -n "s/^ *version: '\([^']*\)'.*/\1/p" meson.build | head -n 1)
deb_version=$(dpkg-parsechangelog -S Version)
if [ "$version" != "$deb_version" ]; then
    echo "deb: meson.build says version $version, debian/changelog $deb_version: add a changelog entry (dch -v $version)" >&2
    exit 1
fi
rm -rf "$out"
src="$out/ckeras-$version"
mkdir -p "$src"
if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
        tar --null -T - -cf - | tar -xf - -C "$src"
else
    tar --exclude='./build*' --exclude='./.git' -cf - . | tar -xf - -C "$src"
fi
: "${DEB_BUILD_OPTIONS:=nocheck}"
case " $DEB_BUILD_OPTIONS " in *" parallel="*) ;; *) DEB_BUILD_OPTIONS="$DEB_BUILD_OPTIONS parallel=$(nproc 2>/dev/null || echo 1)" ;; esac
export DEB_BUILD_OPTIONS
profiles=""
case " $DEB_BUILD_OPTIONS " in *" nocheck "*) profiles="-Pnocheck" ;; esac
echo "deb: building in $src (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)"
(cd "$src" && dpkg-buildpackage -us -uc -b $profiles) > "$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log" >&2
    echo "deb: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
    exit 1
}
echo "deb: packages in $out/:"
for d in "$out"/*.deb; do
    printf '  %-44s %8s bytes, installed %5s kB\n' "$(basename "$d")" "$(stat -c %s "$d")" "$(dpkg-deb -f "$d" Installed-Size)"
done
