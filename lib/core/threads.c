/* Thread settings. OpenBLAS keeps its own pool; our setting is the one
 * number both follow, so a user never has to set OPENBLAS_NUM_THREADS. */
#define _DEFAULT_SOURCE
#include "blas_int.h"
#include "internal.h"
#include <ckeras/runtime.h>

#include <stdatomic.h>
#include <unistd.h>

/* 0 = not set yet: one per core. Atomic: every parallel loop reads it, on
 * any thread, while another thread may set it. */
static atomic_int n_threads;

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

void kc_set_num_threads(int n)
{
    int want = n < 1 ? cores() : n;
    atomic_store_explicit(&n_threads, want, memory_order_relaxed);
    kc__blas_set_threads(want);
}

int kc_get_num_threads(void)
{
    int n = atomic_load_explicit(&n_threads, memory_order_relaxed);
    return n ? n : cores();
}

int kc__num_threads(void) { return kc_get_num_threads(); }
