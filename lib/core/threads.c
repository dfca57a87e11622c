/* Thread settings. OpenBLAS keeps its own pool; our setting is the one
 * number both follow, so a user never has to set OPENBLAS_NUM_THREADS. */
#define _DEFAULT_SOURCE
#include "blas_int.h"
#include "internal.h"
#include <ckeras/runtime.h>

#include <unistd.h>

static int n_threads; /* 0 = not set yet: one per core */

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

void kc_set_num_threads(int n)
{
    n_threads = n < 1 ? cores() : n;
    kc__blas_set_threads(n_threads);
}

int kc_get_num_threads(void) { return n_threads ? n_threads : cores(); }

int kc__num_threads(void) { return kc_get_num_threads(); }
