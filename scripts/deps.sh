#!/bin/sh
# Install the Debian packages ckeras needs, but only those that are missing.
# Runs apt-get as root, or through sudo when that works without a password;
# otherwise it says what to install and fails.
set -eu
pkgs="gcc libc6-dev libhdf5-dev hdf5-tools libjansson-dev check meson ninja-build pkg-config libopenblas-dev libzip-dev"
# Node.js and npm run keras-ref, the TensorFlow.js conformance checks. Looked
# for as commands: a machine may have them from elsewhere (NodeSource's
# nodejs bundles npm and conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
# Optional: modelinspect's pictures (Graphviz, Cairo), the Debian packaging
# tools (make deb, make test-deb), h5py / numpy for the conformance
# converter the Keras 3 oracle test runs, MPI with the MPI build of HDF5
# (training on several processes; collective checkpoints in build-phdf5),
# g++ for the C++ tour (ckeras.hpp), cmake for the CMake package test,
# libseccomp (the isolated loader's system-call filter), clang with its
# libFuzzer runtime (make fuzz), oneDNN for convolutions. One that cannot be
# installed turns its feature off (its tests say SKIPPED or are not built);
# it never fails this script.
optional="libgraphviz-dev libcairo2-dev build-essential debhelper dpkg-dev lintian python3-h5py python3-numpy libopenmpi-dev openmpi-bin libhdf5-openmpi-dev g++ cmake libseccomp-dev clang libclang-rt-14-dev libdnnl-dev"
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
# Installing libhdf5-openmpi-dev makes Debian point the hdf5.pc alternative
# at the MPI build of HDF5 (higher priority): pin it to the serial build
# first, as it was, so that other software is not switched behind its back
# (ckeras itself asks for hdf5-serial by name).
serial_pc=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/pkgconfig/hdf5-serial.pc
case " $missing_optional " in
*" libhdf5-openmpi-dev "*)
    if [ -e "$serial_pc" ] && command -v update-alternatives >/dev/null 2>&1 &&
        update-alternatives --query hdf5.pc 2>/dev/null | grep -q "^Status: auto"; then
        $sudo update-alternatives --set hdf5.pc "$serial_pc" >/dev/null 2>&1 || true
    fi
    ;;
esac
for p in $missing_optional; do
    echo "deps: installing $p (optional)"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$p" ||
        echo "deps: could not install $p: its feature is off" >&2
done
