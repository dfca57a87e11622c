#!/bin/sh
# Install the Debian packages ckeras needs, but only those that are missing.
# Runs apt-get as root, or through sudo when that works without a password;
# otherwise it says what to install and fails.
set -eu
pkgs="gcc libc6-dev libhdf5-dev hdf5-tools libjansson-dev check meson ninja-build pkg-config libopenblas-dev libseccomp-dev"
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: dpkg-query not found; this script supports Debian 12. Install: $pkgs" >&2
    exit 1
fi
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: run 'make deps' as root (or with passwordless sudo), or: apt-get install$missing" >&2
    exit 1
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
