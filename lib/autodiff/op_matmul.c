/* Matrix products through cblas_sgemm.
 *
 * op(a) @ op(b) over the last two axes; leading axes broadcast. When b is a
 * plain matrix and a is not transposed (every Dense layer, also on 3-D
 * inputs), all of a's batch rows fold into one GEMM. Backward, per batch
 * (C = op(A) op(B), G = dL/dC):
 *   A not transposed: dA = G op(B)^T        A transposed: dA = op(B) G^T
 *   B not transposed: dB = op(A)^T G        B transposed: dB = G^T op(A)
 * Gradients of broadcast batch axes accumulate (beta = 1) into one slot.
 * Only the gradients a tape needs are formed: a Dense layer fed by data
 * never computes the data's gradient. */
#include "autodiff_int.h"
#include "../core/blas_int.h"

#include <string.h>

typedef struct mm_geom {
    int64_t m, n, k;
    int nb;                   /* batch rank */
    int64_t bdims[KC_MAX_DIMS];
    int64_t batch;            /* product of bdims */
    int64_t astr[KC_MAX_DIMS], bstr[KC_MAX_DIMS]; /* batch strides in matrices, 0 = broadcast */
    int64_t a_mat, b_mat;     /* elements per matrix */
    bool fold;                /* one GEMM over a's rows */
} mm_geom;

static kc_status geometry(const kc_tensor *a, const kc_tensor *b, bool ta, bool tb, mm_geom *g,
                          kc_error *err)
{
    if (a->ndim < 2 || b->ndim < 2)
        return kc__errf(err, KC_ESHAPE, "matmul needs inputs of rank >= 2, got ranks %d and %d",
                        a->ndim, b->ndim);
    int64_t ar = a->dims[a->ndim - 2], ac = a->dims[a->ndim - 1];
    int64_t br = b->dims[b->ndim - 2], bc = b->dims[b->ndim - 1];
    g->m = ta ? ac : ar;
    g->k = ta ? ar : ac;
    int64_t kb = tb ? bc : br;
    g->n = tb ? br : bc;
    if (g->k != kb) {
        char s1[160], s2[160];
        return kc__errf(err, KC_ESHAPE,
                        "matmul: inner dimensions differ: %s%s @ %s%s (%lld vs %lld)",
                        kc__dims_format(a->ndim, a->dims, s1, sizeof(s1)), ta ? "^T" : "",
                        kc__dims_format(b->ndim, b->dims, s2, sizeof(s2)), tb ? "^T" : "",
                        (long long)g->k, (long long)kb);
    }
    if (kc__broadcast_shape("matmul (batch axes)", a->ndim - 2, a->dims, b->ndim - 2, b->dims,
                            &g->nb, g->bdims, err) != KC_OK)
        return err->code;
    g->a_mat = ar * ac;
    g->b_mat = br * bc;
    g->batch = 1;
    for (int i = 0; i < g->nb; i++) g->batch *= g->bdims[i];
    /* batch strides in units of matrices, right-aligned, 0 where broadcast */
    int64_t sa = 1, sb = 1;
    for (int i = g->nb - 1; i >= 0; i--) {
        int ia = a->ndim - 2 - g->nb + i, ib = b->ndim - 2 - g->nb + i;
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        g->astr[i] = da == 1 ? 0 : sa;
        g->bstr[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
    }
    g->fold = b->ndim == 2 && !ta;
    return KC_OK;
}

/* Matrix offsets (in matrices) of batch index q for a and b. */
static void batch_offsets(const mm_geom *g, int64_t q, int64_t *oa, int64_t *ob)
{
    *oa = *ob = 0;
    for (int i = g->nb - 1; i >= 0; i--) {
        int64_t d = g->bdims[i], r = q % d;
        q /= d;
        *oa += r * g->astr[i];
        *ob += r * g->bstr[i];
    }
}

kc_tensor *kc_matmul(kc_tensor *a, kc_tensor *b, bool ta, bool tb, kc_error *err)
{
    kc_tensor *in[2] = {a, b};
    if (kc__check_f32("matmul", in, 2, err) != KC_OK) return NULL;
    mm_geom g;
    if (geometry(a, b, ta, tb, &g, err) != KC_OK) return NULL;
    int64_t dims[KC_MAX_DIMS];
    for (int i = 0; i < g.nb; i++) dims[i] = g.bdims[i];
    dims[g.nb] = g.m;
    dims[g.nb + 1] = g.n;
    kc_tensor *out = kc_tensor_empty(KC_FLOAT32, g.nb + 2, dims, err);
    if (!out) return NULL;
    const float *av = a->data, *bv = b->data;
    float *cv = out->data;
    int64_t lda = a->dims[a->ndim - 1], ldb = b->dims[b->ndim - 1];
    if (g.fold) {
        kc__sgemm(false, tb, g.batch * g.m, g.n, g.k, 1.0f, av, lda, bv, ldb, 0.0f, cv, g.n);
    } else {
        for (int64_t q = 0; q < g.batch; q++) {
            int64_t oa, ob;
            batch_offsets(&g, q, &oa, &ob);
            kc__sgemm(ta, tb, g.m, g.n, g.k, 1.0f, av + oa * g.a_mat, lda, bv + ob * g.b_mat, ldb,
                      0.0f, cv + q * g.m * g.n, g.n);
        }
    }
    kc__attrs at = {.i = {ta, tb}};
    return kc__finish(KC__OP_MATMUL, out, in, 2, &at, err);
}

kc_status kc__matmul_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                              kc_tensor **gin, kc_error *err)
{
    kc_tensor *a = node->in[0], *b = node->in[1], *G = gout[0];
    bool ta = node->attrs.i[0] != 0, tb = node->attrs.i[1] != 0;
    mm_geom g;
    if (geometry(a, b, ta, tb, &g, err) != KC_OK) return err->code;
    int64_t lda = a->dims[a->ndim - 1], ldb = b->dims[b->ndim - 1];
    const float *av = a->data, *bv = b->data, *gv = G->data;
    kc_tensor *ga = NULL, *gb = NULL;
    /* the folded products overwrite (beta 0); the batched ones accumulate
     * into broadcast operands, so only they need zeroed buffers */
    if (needs[0] && !(ga = g.fold ? kc_tensor_empty(KC_FLOAT32, a->ndim, a->dims, err)
                                  : kc_tensor_zeros(KC_FLOAT32, a->ndim, a->dims, err)))
        goto oom;
    if (needs[1] && !(gb = g.fold ? kc_tensor_empty(KC_FLOAT32, b->ndim, b->dims, err)
                                  : kc_tensor_zeros(KC_FLOAT32, b->ndim, b->dims, err)))
        goto oom;
    if (g.fold) {
        int64_t rows = g.batch * g.m;
        if (ga) /* dA = G op(B)^T : [rows, n] x [n, k] */
            kc__sgemm(false, !tb, rows, g.k, g.n, 1.0f, gv, g.n, bv, ldb, 0.0f, ga->data, lda);
        if (gb) {
            if (!tb) /* dB = A^T G : [k, rows] x [rows, n] */
                kc__sgemm(true, false, g.k, g.n, rows, 1.0f, av, lda, gv, g.n, 0.0f, gb->data, ldb);
            else /* dB = G^T A : [n, rows] x [rows, k] */
                kc__sgemm(true, false, g.n, g.k, rows, 1.0f, gv, g.n, av, lda, 0.0f, gb->data, ldb);
        }
    } else {
        for (int64_t q = 0; q < g.batch; q++) {
            int64_t oa, ob;
            batch_offsets(&g, q, &oa, &ob);
            const float *A = av + oa * g.a_mat, *B = bv + ob * g.b_mat, *Gq = gv + q * g.m * g.n;
            if (ga) {
                float *dA = (float *)ga->data + oa * g.a_mat;
                if (!ta) /* [m, n] x op(B)^T [n, k] */
                    kc__sgemm(false, !tb, g.m, g.k, g.n, 1.0f, Gq, g.n, B, ldb, 1.0f, dA, lda);
                else /* op(B) [k, n] x G^T [n, m] */
                    kc__sgemm(tb, true, g.k, g.m, g.n, 1.0f, B, ldb, Gq, g.n, 1.0f, dA, lda);
            }
            if (gb) {
                float *dB = (float *)gb->data + ob * g.b_mat;
                if (!tb) /* op(A)^T [k, m] x G [m, n] */
                    kc__sgemm(!ta, false, g.k, g.n, g.m, 1.0f, A, lda, Gq, g.n, 1.0f, dB, ldb);
                else /* G^T [n, m] x op(A) [m, k] */
                    kc__sgemm(true, ta, g.n, g.k, g.m, 1.0f, Gq, g.n, A, lda, 1.0f, dB, ldb);
            }
        }
    }
    gin[0] = ga;
    gin[1] = gb;
    return KC_OK;
oom:
    kc_tensor_unref(ga);
    kc_tensor_unref(gb);
    return kc__error_code(err, KC_ENOMEM);
}
