#!/bin/sh
# Run the benchmarks: bench_matmul and bench_conv on one thread, then
# bench_saveload (files in /tmp), bench_lstm on one thread, bench_train_mlp,
# bench_infer (1 and 2 threads).
set -e
"$1" 1
"$2" 1
"$3"
"$4" 1
"$5"
"$6"
