#!/bin/sh
# The ABI check notices what it must: on a copy of the headers, a removed
# function and a changed prototype are reported as an ABI break, a new
# function as an addition with the exact line to add to abi/libckeras.abi,
# a grown public struct as a change.
# Usage: check-abi-selftest.sh SOURCE_ROOT CC
set -u
src=$1
cc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-abi-selftest: $*"; cat "$tmp/out"; exit 1; }

# a scratch source root: the headers, meson.build and the list (no debian/)
fresh() {
    rm -rf "$tmp/root"
    mkdir -p "$tmp/root/abi" "$tmp/root/scripts"
    cp -r "$src/include" "$tmp/root/"
    cp "$src/meson.build" "$tmp/root/"
    cp "$src/abi/libckeras.abi" "$tmp/root/abi/"
}
check() { python3 "$src/scripts/abi.py" --cc "$cc" --source-root "$tmp/root" check > "$tmp/out" 2>&1; }
expect() { grep -qF -- "$1" "$tmp/out" || fail "$2: the message lacks '$1'"; }

fresh
check || fail "the unchanged headers do not pass"

fresh
perl -ni -e 'print unless /\bkc_version\s*\(void\)/' "$tmp/root/include/ckeras/version.h"
check && fail "a removed function passed"
expect "ABI BREAK" "removed function"
expect "  removed: function kc_version [" "removed function"

fresh
perl -pi -e 's/\bkc_version\s*\(void\)/kc_version(int detail)/' "$tmp/root/include/ckeras/version.h"
check && fail "a changed prototype passed"
expect "  changed: function kc_version [" "changed prototype"
expect "       now: function kc_version [" "changed prototype"
expect "const char *(int)" "changed prototype"

fresh
perl -pi -e 's/^KC_END_DECLS/KC_API int kc_abi_selftest_added(const char *name, double x);\nKC_END_DECLS/' \
    "$tmp/root/include/ckeras/version.h"
check && fail "an addition that is not in the list passed"
grep -q "ABI BREAK" "$tmp/out" && fail "an addition was called a break"
expect "New public API (a compatible addition): add this line to abi/libckeras.abi" "addition"
version=$(sed -n "s/^ *version: '\([^']*\)'.*/\1/p" "$src/meson.build" | head -n 1)
expect "  function kc_abi_selftest_added [$version] int (const char *, double)" "addition"
# and adding that one line makes it pass
grep -F "  function kc_abi_selftest_added" "$tmp/out" | sed 's/^  //' >> "$tmp/root/abi/libckeras.abi"
check || fail "the printed line, once added, does not satisfy the check"

fresh
perl -0pi -e 's/(typedef struct kc_error \{)/$1\n    int added_first;/' "$tmp/root/include/ckeras/error.h"
check && fail "a changed struct layout passed"
expect "  changed: struct kc_error size=" "struct layout"

echo "check-abi-selftest: removal, prototype change, addition and struct change are told apart"
