#!/bin/sh
# Run the benchmarks: bench_matmul and bench_conv on one thread, then
# bench_saveload (files in /tmp), then bench_lstm on one thread.
set -e
"$1" 1
"$2" 1
"$3"
"$4" 1
