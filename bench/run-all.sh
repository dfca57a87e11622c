#!/bin/sh
# Run the benchmarks: bench_matmul and bench_conv on one thread, then
# bench_saveload (files in /tmp), bench_lstm on one thread, bench_train_mlp,
# and, in builds with MPI, bench_allreduce on 2 processes ($6, launched by
# $7, tests/mpirun.sh).
set -e
"$1" 1
"$2" 1
"$3"
"$4" 1
"$5"
if [ $# -ge 7 ]; then
    "$7" 2 "$6"
fi
