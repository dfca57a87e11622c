#!/bin/sh
# Run the benchmarks: bench_matmul and bench_conv on one thread, then
# bench_saveload (files in /tmp), bench_lstm on one thread, bench_train_mlp,
# bench_attention on one thread, and, in builds with MPI, bench_allreduce on 2
# processes ($7, launched by $8, tests/mpirun.sh).
set -e
"$1" 1
"$2" 1
"$3"
"$4" 1
"$5"
"$6" 1
if [ $# -ge 8 ]; then
    "$8" 2 "$7"
fi
