/* bench/attention: a MultiHeadAttention layer doing self-attention (4 heads,
 * key_dim 64, model width 256, 128 positions, batch 16), forward alone and
 * forward + backward (the gradients of sum(output) w.r.t. the input and
 * all eight weights, on a gradient tape), against the matrix products that
 * computation cannot avoid, timed with bare cblas_sgemm in the same run:
 *   forward:  the query, key and value projections ([B T, d] x [d, H k]),
 *             per sample and head the scores (q k^T) and the context (p v),
 *             the output projection ([B T, H k] x [H k, d]);
 *   backward: per sample and head dV = p^T g, dP = g v^T, dQ = dz k,
 *             dK = dz^T q; for the four projections the weight gradient
 *             (x^T dy) and the input gradient (dy W^T).
 * The heads are read in place with leading dimension H k, as the layer
 * does. Prints ratio_forward and ratio_forward_backward = time(those GEMMs)
 * / time(ckeras): 1.0 would mean the softmax, masks, bias additions, the
 * tape and everything else cost nothing. Each timing is the median of
 * several repetitions after a warm-up. Usage: bench_attention [threads]
 * [batch] [positions] (defaults 1, 16, 128). */
#define _POSIX_C_SOURCE 200809L
#include <ckeras.h>

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { D_MODEL = 256, HEADS = 4, KEY_DIM = 64, HK = HEADS * KEY_DIM, REPS = 11 };
static int B = 16, T = 128;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp);
    return v[n / 2];
}

static int fail(const kc_error *err)
{
    fprintf(stderr, "bench/attention: %s (%s)\n", err->message, err->context);
    return 1;
}

/* One pass through the layer: forward only, or forward + backward. */
static int pass(kc_object *mha, kc_tensor *x, bool backward, kc_error *err)
{
    kc_tape *tape = backward ? kc_tape_begin(0, err) : NULL;
    if (backward && !tape) return 1;
    if (tape && kc_tape_watch(tape, x, err) != KC_OK) return 1;
    kc_tensor *y = NULL;
    int n = 0;
    int rc = kc_layer_call(mha, (kc_tensor *[]){x, x}, 2, NULL, backward, &y, NULL, &n, err) != KC_OK;
    if (tape) kc_tape_end(tape);
    if (!rc && backward) {
        kc_tensor *src[9], *g[9] = {0};
        src[0] = x;
        for (int i = 0; i < 8; i++) src[i + 1] = kc_variable_value(kc_layer_weight(mha, i));
        rc = kc_tape_gradient(tape, y, src, 9, g, err) != KC_OK;
        for (int i = 0; i < 9; i++) kc_tensor_unref(g[i]);
    }
    kc_tensor_unref(y);
    kc_tape_free(tape);
    return rc;
}

typedef struct bufs {
    float *x, *w[4], *qkv[3], *p, *ctx, *y, *g, *dw[4], *dx, *dp, *dh[3];
} bufs;

static void gemm(bool ta, bool tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c,
                 int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda,
                b, ldb, 0.0f, c, ldc);
}

/* The unavoidable GEMMs, with bare cblas_sgemm. */
static void ceiling(bufs *s, bool backward)
{
    int N = B * T;
    for (int i = 0; i < 3; i++) gemm(false, false, N, HK, D_MODEL, s->x, D_MODEL, s->w[i], HK, s->qkv[i], HK);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < HEADS; h++) {
            size_t o = (size_t)b * T * HK + (size_t)h * KEY_DIM;
            float *p = s->p + ((size_t)b * HEADS + h) * T * T;
            gemm(false, true, T, T, KEY_DIM, s->qkv[0] + o, HK, s->qkv[1] + o, HK, p, T);
            gemm(false, false, T, KEY_DIM, T, p, T, s->qkv[2] + o, HK, s->ctx + o, HK);
        }
    gemm(false, false, N, D_MODEL, HK, s->ctx, HK, s->w[3], D_MODEL, s->y, D_MODEL);
    if (!backward) return;
    gemm(true, false, HK, D_MODEL, N, s->ctx, HK, s->g, D_MODEL, s->dw[3], D_MODEL);
    gemm(false, true, N, HK, D_MODEL, s->g, D_MODEL, s->w[3], D_MODEL, s->dh[0], HK); /* d context */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < HEADS; h++) {
            size_t o = (size_t)b * T * HK + (size_t)h * KEY_DIM;
            const float *p = s->p + ((size_t)b * HEADS + h) * T * T;
            gemm(true, false, T, KEY_DIM, T, p, T, s->dh[0] + o, HK, s->dh[2] + o, HK);       /* dV */
            gemm(false, true, T, T, KEY_DIM, s->dh[0] + o, HK, s->qkv[2] + o, HK, s->dp, T); /* dP */
            gemm(false, false, T, KEY_DIM, T, s->dp, T, s->qkv[1] + o, HK, s->dh[1] + o, HK); /* dQ */
            gemm(true, false, T, KEY_DIM, T, s->dp, T, s->qkv[0] + o, HK, s->dh[0] + o, HK);  /* dK */
        }
    for (int i = 0; i < 3; i++) {
        gemm(true, false, D_MODEL, HK, N, s->x, D_MODEL, s->dh[i], HK, s->dw[i], HK);
        gemm(false, true, N, D_MODEL, HK, s->dh[i], HK, s->w[i], HK, s->dx, D_MODEL);
    }
}

static float *buf(size_t n)
{
    float *p = calloc(n, sizeof(float));
    if (!p) {
        fprintf(stderr, "bench/attention: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = 0.001f * (float)(i % 101);
    return p;
}

static double ratio(kc_object *mha, kc_tensor *x, bufs *s, bool backward, double *ms_ceiling, double *ms_kc,
                    kc_error *err)
{
    double t_kc[REPS], t_bl[REPS];
    for (int r = 0; r < 2; r++) {
        if (pass(mha, x, backward, err)) return -1;
        ceiling(s, backward);
    }
    for (int r = 0; r < REPS; r++) { /* interleaved, so that drift hits both alike */
        double t0 = now();
        ceiling(s, backward);
        double t1 = now();
        if (pass(mha, x, backward, err)) return -1;
        double t2 = now();
        t_bl[r] = t1 - t0;
        t_kc[r] = t2 - t1;
    }
    *ms_ceiling = median(t_bl, REPS) * 1e3;
    *ms_kc = median(t_kc, REPS) * 1e3;
    return *ms_ceiling / *ms_kc;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (argc > 2) B = atoi(argv[2]);
    if (argc > 3) T = atoi(argv[3]);
    if (threads < 1 || B < 1 || T < 1) {
        fprintf(stderr, "usage: bench_attention [threads] [batch] [positions]\n");
        return 64;
    }
    kc_set_num_threads(threads);
    kc_error err = {0};
    kc_object *mha = kc_layer_create("MultiHeadAttention", "{\"num_heads\": 4, \"key_dim\": 64}", &err);
    kc_tensor *x = kc_tensor_empty(KC_FLOAT32, 3, (int64_t[]){B, T, D_MODEL}, &err);
    if (!mha || !x) return fail(&err);
    kc_rng_fill_uniform(kc_global_rng(), kc_tensor_f32(x), (size_t)kc_tensor_size(x), -1.0f, 1.0f);
    size_t N = (size_t)B * T;
    bufs s = {.x = buf(N * D_MODEL), .p = buf((size_t)B * HEADS * T * T), .ctx = buf(N * HK), .y = buf(N * D_MODEL),
              .g = buf(N * D_MODEL), .dx = buf(N * D_MODEL), .dp = buf((size_t)T * T)};
    for (int i = 0; i < 4; i++) {
        s.w[i] = buf((size_t)D_MODEL * HK);
        s.dw[i] = buf((size_t)D_MODEL * HK);
    }
    for (int i = 0; i < 3; i++) {
        s.qkv[i] = buf(N * HK);
        s.dh[i] = buf(N * HK);
    }
    double cf, kf, cb, kb;
    double rf = ratio(mha, x, &s, false, &cf, &kf, &err);
    double rb = rf < 0 ? -1 : ratio(mha, x, &s, true, &cb, &kb, &err);
    if (rf < 0 || rb < 0) return fail(&err);
    printf("bench/attention: MultiHeadAttention(4 heads, key_dim 64) self-attention, batch %d, %d positions, width %d, "
           "%d thread(s)\n", B, T, D_MODEL, threads);
    printf("forward:            sgemm ceiling %.2f ms, ckeras %.2f ms\n", cf, kf);
    printf("forward + backward: sgemm ceiling %.2f ms, ckeras %.2f ms\n", cb, kb);
    printf("ratio_forward: %.3f\nratio_forward_backward: %.3f\n", rf, rb);
    for (int i = 0; i < 4; i++) free(s.w[i]), free(s.dw[i]);
    for (int i = 0; i < 3; i++) free(s.qkv[i]), free(s.dh[i]);
    free(s.x), free(s.p), free(s.ctx), free(s.y), free(s.g), free(s.dx), free(s.dp);
    kc_tensor_unref(x);
    kc_object_unref(mha);
    kc_release_caches();
    return 0;
}
