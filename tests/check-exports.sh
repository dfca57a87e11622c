#!/bin/sh
# The shared library exports exactly the functions the public headers
# declare with KC_API: nothing internal leaks, nothing declared is missing.
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
nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort -u > "$tmp/exported"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "check-exports: headers (-) and $lib (+) disagree" >&2
    exit 1
fi
echo "check-exports: $(wc -l < "$tmp/exported") functions, headers and library agree"
