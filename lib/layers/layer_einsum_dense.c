/* EinsumDense: activation(einsum(equation, x, kernel) + bias).
 *
 * Keras config keys: equation, output_shape (the output's shape without
 * the batch axis, or without the elided axes: an integer or a list with
 * nulls), activation, bias_axes (letters of the output that the bias
 * spans, or null), kernel_/bias_initializer, _regularizer, _constraint,
 * activity_regularizer. Equations are Keras' three forms: "X,Y->Z",
 * "...X,Y->...Z" and "X...,Y->Z..." (an ellipsis stands for axes that pass
 * through).
 *
 * Shapes follow Keras' _analyze_split_string: the kernel takes each
 * letter's size from the input, else from the output; the bias spans the
 * output from its first bias letter on (size 1 on other letters and on
 * right-elided axes), so it broadcasts against the output's last axes.
 *
 * Supported equations are those where every letter appears in exactly two
 * of the three operands, the form of every projection Keras writes
 * (MultiHeadAttention's "abc,cde->abde", "abcd,cde->abe", Dense-like
 * "ab,bc->ac", "...b,bc->...c") and of nearly all user code: letters of
 * the input and output only are free axes F, of the input and kernel only
 * are contracted C, of the kernel and output only are new axes K. That is
 * one GEMM: x as [F, C] times the kernel as [C, K], then the result's axes
 * put in the output's order. The transposes are skipped when the letters
 * already come in that order (the common case: no copy at all). A letter
 * in all three operands (a batched product) or in one only (a sum) gets a
 * clear error naming the equation. */
#include "layer_util.h"

#include <string.h>

#define MAX_TOKENS KC_MAX_DIMS

typedef struct einsum_dense {
    kc_layer base;
    char *equation;
    char *bias_axes;             /* NULL: no bias */
    kc_shape partial;            /* config output_shape (-1 = null) */
    bool partial_scalar;         /* written as an integer */
    kc_object *activation;
    kc_object *kernel_init, *bias_init, *kernel_reg, *bias_reg, *kernel_con, *bias_con;
    kc_variable *kernel, *bias;  /* borrowed */
    /* the parsed equation */
    char in_spec[MAX_TOKENS + 1], ker_spec[MAX_TOKENS + 1], out_spec[MAX_TOKENS + 1];
    int elided;                  /* 0 none, 1 left ("...X"), 2 right ("X...") */
} einsum_dense;

/* ---- the equation ------------------------------------------------------------------------- */

static bool letters(const char *s, size_t n, char *out)
{
    if (n == 0 || n > MAX_TOKENS) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
        for (size_t j = 0; j < i; j++)
            if (s[j] == c) return false; /* a letter twice in one operand */
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* Split "X,Y->Z" (with Keras' ellipsis forms) into e->in/ker/out_spec. */
static kc_status parse_equation(einsum_dense *e, const char *eq, kc_error *err)
{
    const char *comma = strchr(eq, ','), *arrow = strstr(eq, "->");
    bool ok = comma && arrow && comma < arrow;
    const char *in = eq, *ker = comma ? comma + 1 : NULL, *out = arrow ? arrow + 2 : NULL;
    size_t n_in = ok ? (size_t)(comma - in) : 0, n_ker = ok ? (size_t)(arrow - ker) : 0;
    size_t n_out = ok ? strlen(out) : 0;
    e->elided = 0;
    if (ok && n_in > 3 && !strncmp(in, "...", 3) && n_out > 3 && !strncmp(out, "...", 3)) {
        e->elided = 1;
        in += 3, n_in -= 3, out += 3, n_out -= 3;
    } else if (ok && n_in > 3 && !strncmp(in + n_in - 3, "...", 3) && n_out > 3 &&
               !strncmp(out + n_out - 3, "...", 3)) {
        e->elided = 2;
        n_in -= 3, n_out -= 3;
        ok = n_in >= 2; /* Keras' "[a-zA-Z]{2,}..." */
    }
    if (ok)
        ok = letters(in, n_in, e->in_spec) && letters(ker, n_ker, e->ker_spec) && letters(out, n_out, e->out_spec);
    if (!ok)
        return kc__errf(err, KC_EFORMAT,
                        "EinsumDense: invalid equation '%s'. Equations must be in the form [X],[Y]->[Z], "
                        "...[X],[Y]->...[Z], or [X]...,[Y]->[Z]... (letters only, each once per operand)",
                        eq);
    for (const char *p = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"; *p; p++) {
        int where = (strchr(e->in_spec, *p) != NULL) + (strchr(e->ker_spec, *p) != NULL) * 2 +
                    (strchr(e->out_spec, *p) != NULL) * 4;
        if (where == 7)
            return kc__errf(err, KC_EUNSUPPORTED,
                            "EinsumDense: equation '%s' has '%c' in the input, the kernel and the output "
                            "(a batched product): not supported",
                            eq, *p);
        if (where == 1 || where == 2)
            return kc__errf(err, KC_EUNSUPPORTED,
                            "EinsumDense: equation '%s' sums '%c' over one operand only: not supported", eq, *p);
        if (where == 4)
            return kc__errf(err, KC_EFORMAT,
                            "EinsumDense: equation '%s': output letter '%c' is neither in the input nor in the "
                            "kernel",
                            eq, *p);
    }
    return KC_OK;
}

/* Tokens of one operand's axes for an input of rank `rank`: letters, and
 * '0' + i for the i-th elided axis. */
static int tokens(const einsum_dense *e, const char *spec, int rank, bool with_elided, char *tok)
{
    int n = (int)strlen(spec), el = with_elided ? rank - (int)strlen(e->in_spec) : 0, k = 0;
    if (e->elided == 1)
        for (int i = 0; i < el; i++) tok[k++] = (char)('0' + i);
    for (int i = 0; i < n; i++) tok[k++] = spec[i];
    if (e->elided == 2)
        for (int i = 0; i < el; i++) tok[k++] = (char)('0' + i);
    return k;
}

static int find(const char *tok, int n, char c)
{
    for (int i = 0; i < n; i++)
        if (tok[i] == c) return i;
    return -1;
}

/* Everything shapes need for an input shape: the output shape, the kernel
 * and bias shapes. Keras' _analyze_split_string. */
typedef struct einsum_shapes {
    char in_tok[MAX_TOKENS], out_tok[MAX_TOKENS], ker_tok[MAX_TOKENS];
    int n_in, n_out, n_ker;
    kc_shape out, kernel, bias;
    bool has_bias;
} einsum_shapes;

static kc_status analyze(const einsum_dense *e, const kc_shape *in, einsum_shapes *s, kc_error *err)
{
    int el = in->ndim - (int)strlen(e->in_spec);
    if (el < 0 || (el > 0 && !e->elided) || in->ndim + (int)strlen(e->out_spec) - (int)strlen(e->in_spec) > KC_MAX_DIMS)
        return kc__errf(err, KC_ESHAPE, "EinsumDense: equation '%s' does not fit inputs of rank %d", e->equation,
                        in->ndim);
    s->n_in = tokens(e, e->in_spec, in->ndim, true, s->in_tok);
    s->n_out = tokens(e, e->out_spec, in->ndim, true, s->out_tok);
    s->n_ker = tokens(e, e->ker_spec, in->ndim, false, s->ker_tok);
    /* the configured output shape covers the output's letters, except the
     * first one (the batch) when nothing is elided on the left */
    int skip = e->elided == 1 ? 0 : 1, want = (int)strlen(e->out_spec) - skip;
    if (e->partial.ndim != want)
        return kc__errf(err, KC_ESHAPE,
                        "EinsumDense: output_shape has %d entries, equation '%s' needs %d (the output's axes%s)",
                        e->partial.ndim, e->equation, want, skip ? " after the batch axis" : " after the ellipsis");
    s->out.ndim = s->n_out;
    int off = e->elided == 1 ? el : 0;
    for (int i = 0; i < s->n_out; i++) {
        char t = s->out_tok[i];
        int j = find(s->in_tok, s->n_in, t), spec_i = i - off;
        int64_t cfg = spec_i >= skip && spec_i - skip < e->partial.ndim && (t < '0' || t > '9')
                          ? e->partial.dims[spec_i - skip] : -1;
        if (j >= 0) {
            int64_t d = in->dims[j];
            if (cfg >= 0 && d >= 0 && cfg != d)
                return kc__errf(err, KC_ESHAPE,
                                "EinsumDense: output_shape gives %lld for '%c', the input has %lld (equation '%s')",
                                (long long)cfg, t, (long long)d, e->equation);
            s->out.dims[i] = d;
        } else {
            if (cfg < 0)
                return kc__errf(err, KC_ESHAPE, "EinsumDense: output_shape must give the size of '%c' (equation '%s')",
                                t, e->equation);
            s->out.dims[i] = cfg;
        }
    }
    s->kernel.ndim = s->n_ker;
    for (int i = 0; i < s->n_ker; i++) {
        char t = s->ker_tok[i];
        int j = find(s->in_tok, s->n_in, t);
        s->kernel.dims[i] = j >= 0 ? in->dims[j] : s->out.dims[find(s->out_tok, s->n_out, t)];
        if (s->kernel.dims[i] < 0)
            return kc__errf(err, KC_ESHAPE, "EinsumDense: the size of '%c' must be known to build the kernel "
                            "(equation '%s')", t, e->equation);
    }
    s->has_bias = e->bias_axes != NULL;
    if (s->has_bias) {
        int first = s->n_out;
        for (const char *c = e->bias_axes; *c; c++) {
            int j = find(s->out_tok, s->n_out, *c);
            if (j < 0 || *c < 'A')
                return kc__errf(err, KC_EFORMAT, "EinsumDense: bias axis '%c' is not in the output of '%s'", *c,
                                e->equation);
            if (j < first) first = j;
        }
        s->bias.ndim = s->n_out - first;
        for (int i = first; i < s->n_out; i++) {
            bool b = strchr(e->bias_axes, s->out_tok[i]) && s->out_tok[i] >= 'A';
            s->bias.dims[i - first] = b ? s->out.dims[i] : 1;
            if (b && s->out.dims[i] < 0)
                return kc__errf(err, KC_ESHAPE, "EinsumDense: the size of bias axis '%c' must be known",
                                s->out_tok[i]);
        }
    }
    return KC_OK;
}

/* ---- config ------------------------------------------------------------------------------- */

static kc_status ed_init(kc_object *self, kc_error *err)
{
    (void)self, (void)err;
    return KC_OK;
}

static void ed_fini(kc_object *self)
{
    einsum_dense *e = (einsum_dense *)self;
    kc__free(e->equation);
    kc__free(e->bias_axes);
    kc_object *objs[] = {e->activation, e->kernel_init, e->bias_init, e->kernel_reg,
                         e->bias_reg,   e->kernel_con,  e->bias_con};
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) kc_object_unref(objs[i]);
}

static kc_status ed_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    einsum_dense *e = (einsum_dense *)self;
    const char *eq = NULL, *bias = NULL;
    kc_status rc = kc_cfg_string(ctx, cfg, "equation", KC_CFG_REQUIRED, NULL, &eq, err);
    if (rc == KC_OK && !(e->equation = kc__strdup(eq))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) {
        rc = parse_equation(e, eq, err);
        if (rc != KC_OK) kc__error_context(err, "%s.equation", ctx->path);
    }
    int64_t dims[KC_MAX_DIMS];
    int n = 0;
    bool present = false;
    if (rc == KC_OK) {
        const json_t *v = json_object_get(cfg, "output_shape");
        if (json_is_array(v)) { /* a list with nulls: a shape */
            rc = kc__cfg_shape(ctx, cfg, "output_shape", &present, &e->partial, err);
        } else {
            rc = kc__cfg_int_list(ctx, cfg, "output_shape", true, true, KC_MAX_DIMS, dims, &n, &present,
                                  &e->partial_scalar, err);
            e->partial = kc_shape_make(n, dims);
        }
    }
    if (rc == KC_OK) rc = kc_cfg_string(ctx, cfg, "bias_axes", KC_CFG_NULLABLE, NULL, &bias, err);
    if (rc == KC_OK && bias && !(e->bias_axes = kc__strdup(bias))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "activation", KC_KIND_ACTIVATION, "linear", &e->activation, err);
    if (rc == KC_OK && !e->activation)
        rc = kc_cfg_object(ctx, json_null(), "activation", KC_KIND_ACTIVATION, "linear", &e->activation, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "kernel_initializer", KC_KIND_INITIALIZER, "glorot_uniform", &e->kernel_init, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_initializer", KC_KIND_INITIALIZER, "zeros", &e->bias_init, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "kernel_regularizer", KC_KIND_REGULARIZER, NULL, &e->kernel_reg, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_regularizer", KC_KIND_REGULARIZER, NULL, &e->bias_reg, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "kernel_constraint", KC_KIND_CONSTRAINT, NULL, &e->kernel_con, err);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "bias_constraint", KC_KIND_CONSTRAINT, NULL, &e->bias_con, err);
    int64_t lora = 0;
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "lora_rank", KC_CFG_NULLABLE | KC_CFG_NONNEG, 0, &lora, err);
    if (rc == KC_OK && lora > 0)
        rc = kc__errf(err, KC_EUNSUPPORTED, "%s.lora_rank: LoRA EinsumDense layers (Keras 3) are not supported", ctx->path);
    return rc;
}

static kc_status ed_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const einsum_dense *e = (const einsum_dense *)self;
    json_t *os = e->partial_scalar && e->partial.ndim == 1 ? json_integer(e->partial.dims[0]) : kc__shape_to_json(&e->partial);
    if (!os || json_object_set_new(cfg, "output_shape", os) ||
        json_object_set_new(cfg, "equation", json_string(e->equation)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = kc_cfg_set_object(cfg, "activation", e->activation, err);
    if (rc == KC_OK && json_object_set_new(cfg, "bias_axes", e->bias_axes ? json_string(e->bias_axes) : json_null()))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_initializer", e->kernel_init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_initializer", e->bias_init, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_regularizer", e->kernel_reg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_regularizer", e->bias_reg, err);
    if (rc == KC_OK) rc = kc__layer_write_activity_regularizer(self, cfg, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "kernel_constraint", e->kernel_con, err);
    if (rc == KC_OK) rc = kc_cfg_set_object(cfg, "bias_constraint", e->bias_con, err);
    return rc;
}

/* ---- shapes, weights, call ---------------------------------------------------------------- */

static kc_status ed_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                                 kc_error *err)
{
    (void)n_in;
    const einsum_dense *e = (const einsum_dense *)self;
    einsum_shapes s;
    kc_status rc = analyze(e, &in[0], &s, err);
    if (rc != KC_OK) return rc;
    if (e->kernel) {
        kc_shape have = kc_tensor_shape(kc_variable_value(e->kernel));
        if (!kc_shape_equal(&have, &s.kernel)) {
            char a[160], b[160];
            return kc__errf(err, KC_ESHAPE, "EinsumDense: these inputs need a kernel of shape %s, the layer's is %s",
                            kc_shape_format(&s.kernel, a, sizeof(a)), kc_shape_format(&have, b, sizeof(b)));
        }
    }
    out[0] = s.out;
    *n_out = 1;
    return KC_OK;
}

static kc_status ed_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    einsum_dense *e = (einsum_dense *)self;
    einsum_shapes s;
    kc_status rc = analyze(e, &in[0], &s, err);
    if (rc != KC_OK) return rc;
    e->kernel = kc_layer_add_weight(self, "kernel", s.kernel.ndim, s.kernel.dims, e->kernel_init, e->kernel_reg,
                                    e->kernel_con, true, err);
    if (!e->kernel) return kc__error_code(err, KC_ENOMEM);
    if (s.has_bias &&
        !(e->bias = kc_layer_add_weight(self, "bias", s.bias.ndim, s.bias.dims, e->bias_init, e->bias_reg,
                                        e->bias_con, true, err)))
        return kc__error_code(err, KC_ENOMEM);
    return KC_OK;
}

/* x transposed by perm unless perm is the identity. New reference. */
static kc_tensor *permute(kc_tensor *x, const int *perm, int n, kc_error *err)
{
    bool id = true;
    for (int i = 0; i < n; i++) id &= perm[i] == i;
    return id ? kc_tensor_ref(x) : kc_transpose(x, perm, err);
}

static kc_status ed_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    (void)n_out;
    einsum_dense *e = (einsum_dense *)self;
    kc_tensor *x = a->inputs[0];
    kc_shape xs = kc_tensor_shape(x);
    einsum_shapes s;
    kc_status rc = analyze(e, &xs, &s, err);
    if (rc != KC_OK) return rc;
    /* x as [F, C], the kernel as [C, K]; the product's axes are F then K */
    int xperm[MAX_TOKENS], kperm[MAX_TOKENS], yperm[MAX_TOKENS], nf = 0, nc = 0, nk = 0;
    char fk[2 * MAX_TOKENS];
    int64_t rows = 1, inner = 1, cols = 1, fkdims[2 * MAX_TOKENS];
    for (int i = 0; i < s.n_out; i++) {
        int j = find(s.in_tok, s.n_in, s.out_tok[i]);
        if (j < 0) continue;
        xperm[nf++] = j;
        fk[nf - 1] = s.out_tok[i];
        fkdims[nf - 1] = xs.dims[j];
        rows *= xs.dims[j];
    }
    for (int i = 0; i < s.n_ker; i++) {
        int j = find(s.in_tok, s.n_in, s.ker_tok[i]);
        if (j < 0) continue;
        xperm[nf + nc] = j;
        kperm[nc++] = i;
        inner *= xs.dims[j];
    }
    for (int i = 0; i < s.n_out; i++) {
        int j = find(s.ker_tok, s.n_ker, s.out_tok[i]);
        if (j < 0 || find(s.in_tok, s.n_in, s.out_tok[i]) >= 0) continue;
        kperm[nc + nk] = j;
        fk[nf + nk] = s.out_tok[i];
        fkdims[nf + nk] = s.kernel.dims[j];
        cols *= s.kernel.dims[j];
        nk++;
    }
    for (int i = 0; i < s.n_out; i++) yperm[i] = find(fk, nf + nk, s.out_tok[i]);
    kc_scope *sc = kc_scope_new(err);
    kc_tensor *xt = kc_scope_take(sc, permute(x, xperm, s.n_in, err));
    kc_tensor *x2 = kc_scope_take(sc, kc_reshape(xt, 2, (int64_t[]){rows, inner}, err));
    kc_tensor *kt = kc_scope_take(sc, permute(kc_variable_value(e->kernel), kperm, s.n_ker, err));
    kc_tensor *k2 = kc_scope_take(sc, kc_reshape(kt, 2, (int64_t[]){inner, cols}, err));
    kc_tensor *y2 = kc_scope_take(sc, kc_matmul(x2, k2, false, false, err));
    kc_tensor *y = kc_scope_take(sc, kc_reshape(y2, nf + nk, fkdims, err));
    y = kc_scope_take(sc, permute(y, yperm, s.n_out, err));
    if (e->bias) y = kc_scope_take(sc, kc_add(y, kc_variable_value(e->bias), err));
    out[0] = y ? kc_activation_call(e->activation, y, err) : NULL;
    kc_scope_free(sc);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods ed_methods = {
    .build = ed_build,
    .call = ed_call,
    .compute_output_shape = ed_output_shape,
};

KC__LAYER_CLASS(kc__einsum_dense_class, "EinsumDense", einsum_dense, ed_init, ed_fini, ed_get_config,
                ed_from_config, &ed_methods);
