#!/bin/sh
# Run a program on N MPI processes the way this machine allows, for the
# test suite and the samples:
#   mpirun.sh N PROGRAM [ARGS...]
# With Open MPI: --allow-run-as-root (CI runs as root), --oversubscribe
# (more processes than the 2 cores), no core binding (the machine is
# shared), shared-memory transport only, and no single-copy mechanism
# (containers forbid the ptrace/CMA it needs). One BLAS thread per process.
# Any other MPI: plain mpiexec.
set -eu
np=$1
shift
export OPENBLAS_NUM_THREADS=1
# Under AddressSanitizer: Open MPI's libraries have no frame pointers, so
# leak reports need the slow unwinder to show the MPI_Init / Open MPI
# frames that tests/lsan.supp names.
if [ -n "${ASAN_OPTIONS:-}" ]; then
    export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"
fi
if command -v mpirun >/dev/null 2>&1 && mpirun --version 2>&1 | grep -q "Open MPI"; then
    export OMPI_MCA_btl_vader_single_copy_mechanism=none
    export OMPI_MCA_btl=self,vader
    export OMPI_MCA_rmaps_base_oversubscribe=1
    export OMPI_MCA_hwloc_base_binding_policy=none
    export OMPI_MCA_mpi_yield_when_idle=1 # waiting processes give the shared cores back
    exec mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$np" "$@"
fi
exec mpiexec -n "$np" "$@"
