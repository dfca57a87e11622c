#!/bin/sh
# check-exports.sh fails on a library that exports what no header declares:
# LEAKY is libckeras plus tests/abi/leaky_export.c (a function and a
# variable made global by mistake). It must name both, and nothing else.
# Usage: check-exports-leak.sh CHECK_EXPORTS LEAKY.so INCLUDE_DIR [HEADER...]
# (HEADERs: optional parts the library was built without, as check-exports.sh)
set -u
check=$1 lib=$2 inc=$3
shift 3
out=$("$check" "$lib" "$inc" "$@" 2>&1)
rc=$?
fail() { echo "check-exports-leak: $*"; echo "$out"; exit 1; }
[ "$rc" -eq 1 ] || fail "check-exports.sh exited $rc on a leaky library, wanted 1"
echo "$out" | grep -q "exports kc__leaked_helper (T), which no public header declares with KC_API" ||
    fail "the leaked function is not named"
echo "$out" | grep -q "exports leaked_counter (D)" || fail "the leaked variable is not named"
[ "$(echo "$out" | wc -l)" -eq 2 ] || fail "more was reported than the two leaks"
echo "check-exports-leak: a leaked function and variable are caught"
