#!/bin/sh
# Install the Debian packages ckeras needs, but only those that are missing.
# Runs apt-get as root, or through sudo when that works without a password;
# otherwise it says what to install and fails.
set -eu
pkgs="gcc libc6-dev libhdf5-dev hdf5-tools libjansson-dev check meson ninja-build pkg-config libopenblas-dev"
# MPI (data-parallel training; optional: the build turns it off without
# them) and the MPI build of HDF5 for collective checkpoints
# (-Dparallel_hdf5, built by `make test` in build-phdf5 when present).
optional="libopenmpi-dev openmpi-bin libhdf5-openmpi-dev"
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: dpkg-query not found; this script supports Debian 12. Install: $pkgs" >&2
    exit 1
fi
missing="" pkgs_missing="" optional_missing=""
for p in $pkgs $optional; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
        case " $optional " in
        *" $p "*) optional_missing="$optional_missing $p" ;;
        *) pkgs_missing="$pkgs_missing $p" ;;
        esac
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
if [ -n "$pkgs_missing" ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $pkgs_missing
fi
[ -z "$optional_missing" ] && exit 0
# Installing libhdf5-openmpi-dev makes Debian point the hdf5.pc alternative
# at the MPI build of HDF5 (higher priority): pin it to the serial build
# first, as it was, so that other software is not switched behind its back
# (ckeras itself asks for hdf5-serial by name).
serial_pc=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/pkgconfig/hdf5-serial.pc
if [ -e "$serial_pc" ] && command -v update-alternatives >/dev/null 2>&1 &&
    update-alternatives --query hdf5.pc 2>/dev/null | grep -q "^Status: auto"; then
    $sudo update-alternatives --set hdf5.pc "$serial_pc" >/dev/null 2>&1 || true
fi
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $optional_missing ||
    echo "deps: could not install$optional_missing: ckeras builds without MPI" >&2
