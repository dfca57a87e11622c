#!/bin/sh
# The shared library exports exactly the functions the public headers
# declare with KC_API: nothing internal leaks (no function or variable made
# global by mistake, whatever its name), nothing declared is missing.
# Usage: check-exports.sh LIBCKERAS.so INCLUDE_DIR [HEADER...]
# HEADERs (names under ckeras/) are left out: headers of optional parts
# the library was built without (distributed.h without MPI).
set -eu
lib=$1
inc=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
headers="$inc/ckeras.h"
for h in "$inc"/ckeras/*.h; do
    skip=0
    for x in "$@"; do [ "$(basename "$h")" = "$x" ] && skip=1; done
    [ $skip = 1 ] || headers="$headers $h"
done
# one declaration per line; the first kc_ identifier followed by '(' after KC_API
# (comments and preprocessor lines removed first)
cat $headers | perl -0777 -pe 's{/\*.*?\*/}{}gs' | grep -v '^ *#' |
    tr '\n' ' ' | sed 's/;/;\n/g' | grep 'KC_API' |
    perl -ne 'print "$1\n" if /KC_API.*?\b(kc_\w+)\s*\(/' | sort -u > "$tmp/declared"
# every defined dynamic symbol, functions (T) and data (D, B, R, ...) alike;
# AddressSanitizer adds an __odr_asan.NAME indicator next to each exported
# variable NAME, which is reported itself
nm -D --defined-only "$lib" | awk 'NF == 3 && $3 !~ /^__odr_asan[.]/ { print $3, $2 }' | sort -u > "$tmp/exported_typed"
cut -d' ' -f1 "$tmp/exported_typed" | sort -u > "$tmp/exported"
leaked=$(comm -13 "$tmp/declared" "$tmp/exported")
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
if [ -n "$leaked" ] || [ -n "$missing" ]; then
    for s in $leaked; do
        echo "check-exports: $lib exports $s ($(grep "^$s " "$tmp/exported_typed" | cut -d' ' -f2)), which no public header declares with KC_API: make it static or hidden, or declare it with KC_API in include/ckeras/ if it is public" >&2
    done
    for s in $missing; do
        echo "check-exports: $s is declared with KC_API in $inc but $lib does not export it: define it in lib/, or remove the declaration" >&2
    done
    exit 1
fi
echo "check-exports: $(wc -l < "$tmp/exported") functions, headers and library agree"
