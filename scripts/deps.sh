#!/bin/sh
# Install the Debian packages ckeras needs, but only those that are missing.
# Runs apt-get as root, or through sudo when that works without a password;
# otherwise it says what to install and fails.
set -eu
pkgs="gcc libc6-dev libhdf5-dev hdf5-tools libjansson-dev check meson ninja-build pkg-config libopenblas-dev libzip-dev"
# Optional: modelinspect's pictures (Graphviz, Cairo), the Debian packaging
# tools (make deb, make test-deb), and h5py / numpy for the conformance
# converter the Keras 3 oracle test runs, oneDNN for convolutions. One that
# cannot be installed turns its feature off (its tests say SKIPPED); it never
# fails this script.
optional="libgraphviz-dev libcairo2-dev build-essential debhelper dpkg-dev lintian python3-h5py python3-numpy libdnnl-dev"
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: dpkg-query not found; this script supports Debian 12. Install: $pkgs" >&2
    exit 1
fi
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=""
for p in $pkgs; do
    installed "$p" || missing="$missing $p"
done
missing_optional=""
for p in $optional; do
    installed "$p" || missing_optional="$missing_optional $p"
done
[ -z "$missing$missing_optional" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    [ -z "$missing" ] && { echo "deps: optional packages not installed:$missing_optional"; exit 0; }
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: run 'make deps' as root (or with passwordless sudo), or: apt-get install$missing" >&2
    exit 1
fi
$sudo apt-get update -qq
if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi
for p in $missing_optional; do
    echo "deps: installing $p (optional)"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$p" ||
        echo "deps: could not install $p: its feature is off" >&2
done
