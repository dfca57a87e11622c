#!/bin/sh
# `make demo`: train, evaluate, save and reload a digits classifier
# (digits_demo), look inside the file with modelinspect, and -- when the
# project's reference (../shared/conformance) and Node.js are there -- ask
# TensorFlow.js to load the file and confirm the predictions.
#   demo.sh DIGITS_DEMO MODELINSPECT DATA_DIR OUT_DIR SOURCE_ROOT
set -eu
demo=$1 inspect=$2 data=$3 out=$4 root=$5
mkdir -p "$out"
"$demo" "$data" "$out"
echo
echo "$ modelinspect summary digits.h5"
if ! "$inspect" summary "$out/digits.h5" 2>/dev/null; then
    "$inspect" verify "$out/digits.h5"
fi
ref="$root/../shared/conformance"
echo
if [ -x "$ref/keras-ref" ] && command -v node >/dev/null 2>&1 && "$ref/setup" >/dev/null 2>&1; then
    echo "$ keras-ref check digits.h5 digits.io.json   (TensorFlow.js)"
    "$ref/keras-ref" check "$out/digits.h5" "$out/digits.io.json" --rtol 1e-4 --atol 1e-5
else
    echo "(TensorFlow.js check skipped: ../shared/conformance or Node.js is not available)"
fi
