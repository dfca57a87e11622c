/* Thread settings: the size of ckeras' worker pool (parallel.c), which
 * runs the elementwise loops and also shares out matrix products
 * (tensor_blas.c keeps OpenBLAS itself on one thread), so a user never has
 * to set OPENBLAS_NUM_THREADS. */
#define _DEFAULT_SOURCE
#include "blas_int.h"
#include "conv_backend.h"
#include "internal.h"
#include <ckeras/runtime.h>

#include <stdio.h>
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

const char *kc_compute_backends(void)
{
    static char text[256];
    snprintf(text, sizeof(text), "matrix products: %s; convolutions: %s", kc__blas_name(),
             kc__conv_backend_available() ? kc__conv_backend_name() : "ckeras (im2col + OpenBLAS, direct loops)");
    return text;
}

int kc__num_threads(void) { return kc_get_num_threads(); }
