#!/bin/sh
# Install the Debian packages ckeras needs, but only those that are missing.
# Runs apt-get as root, or through sudo when that works without a password;
# otherwise it says what to install and fails.
#
# The optional packages turn features on and are never a reason to fail:
# libseccomp-dev (the isolated loader's system-call filter), clang and
# libclang-rt-14-dev (the fuzz harnesses, `make fuzz`).
set -eu
pkgs="gcc libc6-dev libhdf5-dev hdf5-tools libjansson-dev check meson ninja-build pkg-config libopenblas-dev"
optional="libseccomp-dev clang libclang-rt-14-dev"
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: dpkg-query not found; this script supports Debian 12. Install: $pkgs (and, optionally, $optional)" >&2
    exit 1
fi
missing_of() {
    out=""
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            out="$out $p"
        fi
    done
    echo "$out"
}
# shellcheck disable=SC2086
missing=$(missing_of $pkgs)
# shellcheck disable=SC2086
missing_optional=$(missing_of $optional)
[ -z "$missing$missing_optional" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    [ -z "$missing" ] && { echo "deps: optional packages not installed (no root):$missing_optional" >&2; exit 0; }
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: run 'make deps' as root (or with passwordless sudo), or: apt-get install$missing" >&2
    exit 1
fi
$sudo apt-get update -qq
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi
if [ -n "$missing_optional" ]; then
    echo "deps: installing (optional)$missing_optional"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing_optional ||
        echo "deps: could not install$missing_optional; the features that need them are off" >&2
fi
