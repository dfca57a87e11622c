/* Orthogonal(gain, seed): a random orthogonal matrix, as Keras builds it.
 *
 * The weight is viewed as a (prod(shape[:-1]), shape[-1]) matrix; a normal
 * random matrix of shape (max, min) is factored a = QR and Q (with the signs
 * that make R's diagonal positive) is used, transposed when the weight has
 * fewer rows than columns. Modified Gram-Schmidt in double precision gives
 * exactly that Q (its R has a positive diagonal by construction), without a
 * LAPACK dependency. */
#include "initializer_int.h"

#include <math.h>

typedef struct orth_init {
    kc_object base;
    double gain;
    kc__seed seed;
} orth_init;

static kc_status orth_defaults(kc_object *self, kc_error *err)
{
    (void)err;
    ((orth_init *)self)->gain = 1.0;
    return KC_OK;
}

static kc_status orth_fill(kc_object *self, kc_tensor *out, kc_error *err)
{
    orth_init *o = (orth_init *)self;
    kc_status rc = kc__check_init_out("Orthogonal", out, err);
    if (rc != KC_OK) return rc;
    int nd = kc_tensor_ndim(out);
    if (nd < 2) {
        char buf[128];
        kc_shape s = kc_tensor_shape(out);
        return kc__errf(err, KC_ESHAPE, "Orthogonal initializer needs a shape of rank >= 2, got %s",
                        kc_shape_format(&s, buf, sizeof(buf)));
    }
    int64_t cols = kc_tensor_dim(out, -1), rows = kc_tensor_size(out) / (cols ? cols : 1);
    if (rows == 0 || cols == 0) return KC_OK;
    int64_t m = rows > cols ? rows : cols, n = rows > cols ? cols : rows; /* m >= n */
    size_t bytes;
    if (!kc__mul_size((size_t)m * (size_t)n, sizeof(double), &bytes))
        return kc__errf(err, KC_ELIMIT, "Orthogonal initializer: shape too large");
    double *a = kc__malloc(bytes); /* column-major m x n: column j at a + j*m */
    if (!a) return kc__errf(err, KC_ENOMEM, "out of memory in Orthogonal initializer");
    kc_rng local;
    kc_rng *rng = kc__seed_rng(&o->seed, &local);
    for (int64_t i = 0; i < m * n; i++) a[i] = kc_rng_normal(rng);
    for (int64_t j = 0; j < n; j++) {
        double *cj = a + j * m;
        for (int pass = 0; pass < 2; pass++) /* re-orthogonalize once for accuracy */
            for (int64_t k = 0; k < j; k++) {
                const double *ck = a + k * m;
                double d = 0;
                for (int64_t i = 0; i < m; i++) d += ck[i] * cj[i];
                for (int64_t i = 0; i < m; i++) cj[i] -= d * ck[i];
            }
        double norm = 0;
        for (int64_t i = 0; i < m; i++) norm += cj[i] * cj[i];
        norm = sqrt(norm);
        if (norm < 1e-12) { /* degenerate draw: practically impossible */
            kc__free(a);
            return kc__errf(err, KC_EINTERNAL, "Orthogonal initializer: rank-deficient draw");
        }
        for (int64_t i = 0; i < m; i++) cj[i] /= norm;
    }
    /* q is m x n; the weight is rows x cols: q itself, or q^T when rows < cols */
    float *p = kc_tensor_f32(out);
    double g = o->gain;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            p[r * cols + c] = (float)(g * (rows >= cols ? a[c * m + r] : a[r * m + c]));
    kc__free(a);
    return KC_OK;
}

static kc_status orth_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const orth_init *o = (const orth_init *)self;
    kc_status rc = kc_cfg_set_float(cfg, "gain", o->gain, err);
    if (rc == KC_OK) rc = kc__seed_write(cfg, &o->seed, err);
    return rc;
}

static kc_status orth_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    orth_init *o = (orth_init *)self;
    kc_status rc = kc_cfg_float(ctx, cfg, "gain", 0, 1.0, &o->gain, err);
    if (rc == KC_OK) rc = kc__seed_read(ctx, cfg, &o->seed, err);
    return rc;
}

static const kc_initializer_methods orth_methods = {orth_fill};
const kc_class kc__orthogonal_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_INITIALIZER, .name = "Orthogonal",
    .size = sizeof(orth_init), .config_version = 1, .init = orth_defaults,
    .get_config = orth_get_config, .from_config = orth_from_config, .methods = &orth_methods};
