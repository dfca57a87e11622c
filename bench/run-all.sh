#!/bin/sh
# Run the benchmarks: bench_matmul and bench_conv on one thread, then
# bench_saveload (files in /tmp), bench_lstm on one thread, bench_train_mlp,
# bench_infer (1 and 2 threads; its model file is found from the source
# root, which meson passes to run targets as MESON_SOURCE_ROOT),
# bench_attention on one thread, and, in builds with MPI, bench_allreduce on
# 2 processes ($8, launched by $9, tests/mpirun.sh).
set -e
"$1" 1
"$2" 1
"$3"
"$4" 1
"$5"
CKERAS_SOURCE_ROOT="${CKERAS_SOURCE_ROOT:-${MESON_SOURCE_ROOT:-.}}" "$6"
"$7" 1
if [ $# -ge 9 ]; then
    "$9" 2 "$8"
fi
