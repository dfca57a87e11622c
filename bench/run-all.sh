#!/bin/sh
# Run the benchmarks: bench_matmul and bench_conv on one thread, then
# bench_saveload (files in /tmp), bench_lstm on one thread, bench_train_mlp,
# bench_infer (1 and 2 threads; its model file is found from the source
# root, which meson passes to run targets as MESON_SOURCE_ROOT) and, in
# builds with MPI, bench_allreduce on 2 processes ($7, launched by $8,
# tests/mpirun.sh).
set -e
"$1" 1
"$2" 1
"$3"
"$4" 1
"$5"
CKERAS_SOURCE_ROOT="${CKERAS_SOURCE_ROOT:-${MESON_SOURCE_ROOT:-.}}" "$6"
if [ $# -ge 8 ]; then
    "$8" 2 "$7"
fi
