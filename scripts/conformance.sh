#!/bin/sh
# Set up keras-ref, the TensorFlow.js reference of the conformance tests
# (DIR: ../shared/conformance beside the checkout, or $CKERAS_CONFORMANCE_DIR).
# When it is absent or its setup fails, the tests that need it are reported
# as skipped, saying why -- except in CI (CI=true), where this fails: CI
# must run every TensorFlow.js check.
set -u
dir=${1:-../shared/conformance}
fail() {
    if [ "${CI:-}" = true ]; then
        echo "conformance: $1 -- CI=true requires the TensorFlow.js checks" >&2
        exit 1
    fi
    echo "conformance: $1; the TensorFlow.js checks will be reported as skipped" >&2
    exit 0
}
[ -x "$dir/setup" ] || fail "no keras-ref at $dir"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    fail "Node.js or npm is not installed ('make deps' installs them)"
fi
"$dir/setup" >/dev/null || fail "$dir/setup failed"
echo "conformance: keras-ref is ready ($dir)"
