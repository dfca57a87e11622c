/* Folding an inference plan, then preparing what its steps read.
 *
 * Three passes, each removing a step whose work another step can do where
 * it writes its output anyway. A step folds into its neighbour only when
 * the value between them has no other reader and is not a model output:
 *   1. ZeroPadding before a convolution becomes the convolution's own
 *      padding (the window reads zeros outside the input either way);
 *   2. BatchNormalization after a convolution or Dense without activation
 *      becomes its kernel and bias: with s = gamma / sqrt(var + eps) per
 *      output channel, W' = W s and b' = (b - mean) s + beta (computed in
 *      double; the only fold that changes rounding, by an ulp or so per
 *      layer);
 *   3. an activation becomes the output loop of the convolution, Dense,
 *      BatchNormalization or merge that produces its input (the same
 *      kernel, applied while the block is in cache).
 * Identity layers and views never became steps (build.c).
 *
 * Preparing computes each step's geometry from the value shapes, points
 * kernels at the variables' data, or at folded copies, and records the
 * versions of the variables a fold read, so that a change of those weights
 * makes the plan fold again (kc__plan_valid). */
#include "plan_int.h"

#include <math.h>
#include <string.h>

static void count_readers(kc__plan *p)
{
    for (int v = 0; v < p->n_values; v++) {
        p->values[v].readers = 0;
        p->values[v].last_read = -1;
    }
    for (int s = 0; s < p->n_steps; s++) {
        if (p->steps[s].dead) continue;
        for (int i = 0; i < p->steps[s].n_in; i++) {
            kc__pvalue *r = &p->values[kc__plan_root(p, p->steps[s].in[i])];
            r->readers++;
            r->last_read = s;
        }
    }
}

/* The one live step reading v, directly; -1 when v has other readers, a
 * view, or is a model output. */
static int only_reader(const kc__plan *p, int v)
{
    const kc__pvalue *x = &p->values[v];
    if (x->root != v || x->output || x->readers != 1 || x->producer < 0) return -1;
    for (int u = 0; u < p->n_values; u++)
        if (u != v && p->values[u].root == v) return -1;
    const kc__pstep *s = &p->steps[x->last_read];
    for (int i = 0; i < s->n_in; i++)
        if (s->in[i] == v) return x->last_read;
    return -1;
}

/* Step `from` is folded into `into`, which now writes from's output. */
static void take_output(kc__plan *p, int into, int from)
{
    p->steps[into].out[0] = p->steps[from].out[0];
    p->values[p->steps[from].out[0]].producer = into;
    p->steps[from].dead = true;
}

kc_status kc__plan_fold(kc__plan *p, kc_error *err)
{
    (void)err;
    count_readers(p);
    for (int s = 0; s < p->n_steps; s++) { /* 1. padding into the convolution */
        kc__pstep *pad = &p->steps[s];
        if (pad->dead || pad->kind != KC__ST_PAD) continue;
        int c = only_reader(p, pad->out[0]);
        kc__pstep *conv = c >= 0 ? &p->steps[c] : NULL;
        if (!conv || conv->kind != KC__ST_CONV || conv->pointwise_part || conv->in[0] != pad->out[0] ||
            conv->d.nsp != pad->d.nsp)
            continue;
        for (int i = 0; i < pad->d.nsp; i++) {
            conv->pad_before[i] += pad->d.pads[i][0];
            conv->pad_after[i] += pad->d.pads[i][1];
        }
        conv->in[0] = pad->in[0];
        pad->dead = true;
    }
    count_readers(p);
    for (int s = 0; s < p->n_steps; s++) { /* 2. BatchNormalization into the kernel before it */
        kc__pstep *bn = &p->steps[s];
        if (bn->dead || bn->kind != KC__ST_AFFINE) continue;
        int x = bn->in[0], q = p->values[x].producer;
        if (q < 0 || only_reader(p, x) != s || bn->d.axis != p->values[x].ndim - 1) continue;
        kc__pstep *k = &p->steps[q];
        if (k->dead || (k->kind != KC__ST_CONV && k->kind != KC__ST_DENSE) || !kc__act_none(&k->act) || k->has_bn)
            continue;
        k->has_bn = true;
        k->bn = bn->d;
        take_output(p, q, s);
    }
    count_readers(p);
    for (int s = 0; s < p->n_steps; s++) { /* 3. activations into their producers */
        kc__pstep *a = &p->steps[s];
        if (a->dead || a->kind != KC__ST_ACT) continue;
        int x = a->in[0], q = p->values[x].producer;
        if (q < 0 || only_reader(p, x) != s) continue;
        kc__pstep *k = &p->steps[q];
        bool fusable = k->kind == KC__ST_CONV || k->kind == KC__ST_DENSE || k->kind == KC__ST_AFFINE ||
                       k->kind == KC__ST_MERGE;
        if (k->dead || !fusable || !kc__act_none(&k->act)) continue;
        k->act = a->act;
        take_output(p, q, s);
    }
    count_readers(p);
    return KC_OK;
}

/* ---- preparing the steps --------------------------------------------------------------------- */

static kc_status watch(kc__plan *p, kc_variable *v, kc_error *err)
{
    if (!v) return KC_OK;
    for (int i = 0; i < p->n_watch; i++)
        if (p->watch[i] == v) return KC_OK;
    size_t cap = (size_t)p->cap_watch, cap2 = cap;
    if (!kc__grow((void **)&p->watch, &cap, (size_t)p->n_watch + 1, sizeof(kc_variable *)) ||
        !kc__grow((void **)&p->watch_version, &cap2, (size_t)p->n_watch + 1, sizeof(unsigned long)))
        return kc__errf(err, KC_ENOMEM, "out of memory preparing an inference plan");
    p->cap_watch = (int)(cap < cap2 ? cap : cap2);
    p->watch[p->n_watch] = v;
    p->watch_version[p->n_watch++] = kc__tensor_version(kc_variable_value(v));
    return KC_OK;
}

static const float *data_of(kc_variable *v) { return v ? kc_tensor_cdata(kc_variable_value(v)) : NULL; }

static int64_t elems_of(kc_variable *v) { return v ? kc_tensor_size(kc_variable_value(v)) : 0; }

static kc_status mismatch(const kc__pstep *s, const char *what, kc_error *err)
{
    return kc__errf(err, KC_EINTERNAL, "inference plan: layer '%s': %s does not fit its input",
                    kc_layer_name(s->layer), what);
}

/* W' = W s, b' = (b - mean) s + beta, s = gamma / sqrt(var + eps), over the
 * last axis (the output channel for every kernel layout). */
static kc_status fold_bn(kc__plan *p, kc__pstep *s, kc_variable *kernel, kc_variable *bias, int64_t cout,
                         kc_error *err)
{
    const kc__layer_infer *bn = &s->bn;
    int64_t nw = elems_of(kernel);
    if (elems_of(bn->mean) != cout || elems_of(bn->var) != cout || (bn->gamma && elems_of(bn->gamma) != cout) ||
        (bn->beta && elems_of(bn->beta) != cout) || (bias && elems_of(bias) != cout) || nw % cout)
        return mismatch(s, "the folded BatchNormalization", err);
    kc__free(s->folded_w);
    kc__free(s->folded_b);
    s->folded_w = kc__malloc_array((size_t)nw, sizeof(float));
    s->folded_b = kc__malloc_array((size_t)cout, sizeof(float));
    double *scale = kc__malloc_array((size_t)cout, sizeof(double));
    if (!s->folded_w || !s->folded_b || !scale) {
        kc__free(scale);
        return kc__errf(err, KC_ENOMEM, "out of memory folding BatchNormalization");
    }
    const float *g = data_of(bn->gamma), *be = data_of(bn->beta), *m = data_of(bn->mean), *v = data_of(bn->var);
    const float *w = data_of(kernel), *b = data_of(bias);
    for (int64_t c = 0; c < cout; c++) {
        scale[c] = (g ? (double)g[c] : 1.0) / sqrt((double)v[c] + bn->epsilon);
        s->folded_b[c] = (float)(((b ? (double)b[c] : 0.0) - (double)m[c]) * scale[c] + (be ? (double)be[c] : 0.0));
    }
    for (int64_t i = 0; i < nw; i++) s->folded_w[i] = (float)((double)w[i] * scale[i % cout]);
    kc__free(scale);
    s->w = s->folded_w;
    s->b = s->folded_b;
    kc_status rc = watch(p, bn->gamma, err);
    if (rc == KC_OK) rc = watch(p, bn->beta, err);
    if (rc == KC_OK) rc = watch(p, bn->mean, err);
    if (rc == KC_OK) rc = watch(p, bn->var, err);
    return rc;
}

/* The step's activation as the backend's ReLU (relu, or Keras' relu with
 * a slope or a cap and no threshold: ReLU6, LeakyReLU), or NULL. */
static const kc__conv_relu *relu_of(const kc__act *act, kc__conv_relu *out)
{
    if (act->op == KC__OP_RELU) {
        *out = (kc__conv_relu){0.0f, INFINITY};
        return out;
    }
    if (act->op != KC__OP_RELU_EX || act->f[2] != 0.0) return NULL;
    *out = (kc__conv_relu){(float)act->f[0], (float)act->f[1]};
    return out;
}

/* The compute backend's primitive for the step, with the kernel (folded or
 * not) reordered for it; that copy follows the kernel's version. */
static kc_status prepare_backend(kc__plan *p, kc__pstep *s, kc_variable *kernel, kc_error *err)
{
    if (!s->backend) {
        kc__conv_shape cs;
        kc__conv_shape_of(&s->conv, &cs);
        cs.bias = s->b != NULL;
        kc__conv_relu relu;
        if (!(s->backend = kc__conv_backend_new(&cs, relu_of(&s->act, &relu)))) return KC_OK; /* the own kernels */
    }
    size_t need = kc__conv_backend_weights_bytes(s->backend);
    if (need > s->backend_w_cap) {
        if (s->backend_w) kc__buffer_free(s->backend_w, s->backend_w_cap);
        s->backend_w_cap = 0;
        if (!(s->backend_w = kc__buffer_alloc(need, &s->backend_w_cap)))
            return kc__errf(err, KC_ENOMEM, "out of memory preparing a convolution");
    }
    kc_status rc = kc__conv_backend_weights(s->backend, s->w, s->backend_w, err);
    return rc == KC_OK ? watch(p, kernel, err) : rc;
}

static kc_status prepare_conv(kc__plan *p, kc__pstep *s, kc_error *err)
{
    const kc__pvalue *x = &p->values[s->in[0]], *y = &p->values[s->out[0]];
    const kc__layer_infer *d = &s->d;
    int nsp = d->nsp;
    if (nsp < 1 || nsp > KC__CONV_MAX_SPATIAL || x->ndim != nsp + 2 || y->ndim != nsp + 2)
        return mismatch(s, "the convolution", err);
    kc__conv_geom g;
    memset(&g, 0, sizeof(g));
    g.nsp = nsp;
    g.batch = x->dims[0];
    g.cin = x->dims[nsp + 1];
    g.cout = y->dims[nsp + 1];
    g.groups = 1;
    int64_t sp[KC__CONV_MAX_SPATIAL];
    kc__padding padding = KC__PAD_VALID;
    kc_variable *kernel = s->pointwise_part ? d->pointwise : d->kernel;
    for (int i = 0; i < nsp; i++) {
        sp[i] = x->dims[i + 1] + s->pad_before[i] + s->pad_after[i];
        g.k[i] = s->pointwise_part ? 1 : d->k[i];
        g.stride[i] = s->pointwise_part ? 1 : d->stride[i];
        g.dilation[i] = s->pointwise_part ? 1 : d->dilation[i];
    }
    if (!s->pointwise_part) {
        padding = d->padding;
        g.groups = d->depthwise ? g.cin : d->groups;
    }
    if (g.groups < 1 || g.cin % g.groups || g.cout % g.groups) return mismatch(s, "the groups", err);
    kc_status rc = kc__conv_geom_init(&g, sp, padding, err);
    if (rc != KC_OK) return rc;
    for (int i = 0; i < nsp; i++) {
        g.in[i] = x->dims[i + 1];
        g.pad[i] += s->pad_before[i];
        if (g.out[i] != y->dims[i + 1]) return mismatch(s, "the output size", err);
    }
    kc__conv_plan_init(&g, &s->conv);
    if (elems_of(kernel) != s->conv.taps * s->conv.cg * s->conv.cout) return mismatch(s, "the kernel", err);
    kc_variable *bias = d->bias; /* none for a separable's depthwise part (build.c) */
    if (bias && elems_of(bias) != s->conv.cout) return mismatch(s, "the bias", err);
    s->w = data_of(kernel);
    s->b = data_of(bias);
    s->scratch = kc__conv_scratch_bytes(&s->conv);
    rc = s->has_bn ? fold_bn(p, s, kernel, bias, s->conv.cout, err) : KC_OK;
    return rc == KC_OK ? prepare_backend(p, s, kernel, err) : rc;
}

static kc_status prepare_dense(kc__plan *p, kc__pstep *s, kc_error *err)
{
    const kc__pvalue *x = &p->values[s->in[0]], *y = &p->values[s->out[0]];
    int64_t k = x->dims[x->ndim - 1], n = y->dims[y->ndim - 1];
    if (elems_of(s->d.kernel) != k * n || (s->d.bias && elems_of(s->d.bias) != n)) return mismatch(s, "the kernel", err);
    s->outer = k ? x->size / k : 0; /* rows */
    s->inner = k;
    s->channels = n;
    s->w = data_of(s->d.kernel);
    s->b = data_of(s->d.bias);
    if (s->has_bn) return fold_bn(p, s, s->d.kernel, s->d.bias, n, err);
    return KC_OK;
}

/* [outer, channels, inner] of a value around an axis. */
static void around(const kc__pvalue *v, int axis, int64_t *outer, int64_t *channels, int64_t *inner)
{
    *outer = *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= v->dims[i];
    for (int i = axis + 1; i < v->ndim; i++) *inner *= v->dims[i];
    *channels = v->dims[axis];
}

static kc_status prepare_affine(kc__plan *p, kc__pstep *s, kc_error *err)
{
    const kc__pvalue *x = &p->values[s->in[0]];
    const kc__layer_infer *d = &s->d;
    if (d->axis < 1 || d->axis >= x->ndim) return mismatch(s, "the axis", err);
    around(x, d->axis, &s->outer, &s->channels, &s->inner);
    int64_t c = s->channels;
    if (elems_of(d->mean) != c || elems_of(d->var) != c || (d->gamma && elems_of(d->gamma) != c) ||
        (d->beta && elems_of(d->beta) != c))
        return mismatch(s, "BatchNormalization", err);
    kc__free(s->inv);
    if (!(s->inv = kc__malloc_array((size_t)c, sizeof(float))))
        return kc__errf(err, KC_ENOMEM, "out of memory preparing BatchNormalization");
    /* as the layer's call: rsqrt(var + (float)epsilon), in float */
    const float *v = data_of(d->var);
    for (int64_t i = 0; i < c; i++) s->inv[i] = 1.0f / sqrtf(v[i] + (float)d->epsilon);
    s->mean = data_of(d->mean);
    s->gamma = data_of(d->gamma);
    s->beta = data_of(d->beta);
    kc_status rc = watch(p, d->var, err);
    return rc;
}

static kc_status prepare_pool(kc__plan *p, kc__pstep *s, kc_error *err)
{
    const kc__pvalue *x = &p->values[s->in[0]], *y = &p->values[s->out[0]];
    int nsp = s->d.nsp;
    if (x->ndim != nsp + 2) return mismatch(s, "the pooling", err);
    if (s->kind == KC__ST_GPOOL) {
        s->outer = x->dims[0];
        s->channels = x->dims[nsp + 1];
        s->inner = x->size / (s->outer * s->channels > 0 ? s->outer * s->channels : 1); /* positions */
        s->scratch = sizeof(double) * (size_t)s->channels;
        return KC_OK;
    }
    kc__conv_geom g;
    memset(&g, 0, sizeof(g));
    g.nsp = nsp;
    g.batch = x->dims[0];
    g.cin = g.cout = x->dims[nsp + 1];
    g.groups = 1;
    for (int i = 0; i < nsp; i++) {
        g.k[i] = s->d.k[i];
        g.stride[i] = s->d.stride[i];
        g.dilation[i] = 1;
    }
    kc_status rc = kc__conv_geom_init(&g, x->dims + 1, s->d.padding, err);
    if (rc != KC_OK) return rc;
    for (int i = 0; i < nsp; i++)
        if (g.out[i] != y->dims[i + 1]) return mismatch(s, "the pooling output", err);
    kc__conv_plan_init(&g, &s->conv);
    s->scratch = sizeof(int64_t) * (size_t)s->conv.taps;
    return KC_OK;
}

kc_status kc__plan_prepare(kc__plan *p, kc_error *err)
{
    p->n_watch = 0;
    kc_status rc = KC_OK;
    for (int i = 0; rc == KC_OK && i < p->n_steps; i++) {
        kc__pstep *s = &p->steps[i];
        if (s->dead) continue;
        switch (s->kind) {
        case KC__ST_CONV: rc = prepare_conv(p, s, err); break;
        case KC__ST_DENSE: rc = prepare_dense(p, s, err); break;
        case KC__ST_AFFINE: rc = prepare_affine(p, s, err); break;
        case KC__ST_POOL:
        case KC__ST_GPOOL: rc = prepare_pool(p, s, err); break;
        case KC__ST_SOFTMAX: around(&p->values[s->in[0]], s->d.axis, &s->outer, &s->channels, &s->inner); break;
        case KC__ST_CONCAT: around(&p->values[s->out[0]], s->d.axis, &s->outer, &s->channels, &s->inner); break;
        default: break;
        }
    }
    return rc;
}

bool kc__plan_valid(const kc__plan *p)
{
    if (p->generation != kc__layers_generation) return false;
    for (int i = 0; i < p->n_watch; i++)
        if (kc__tensor_version(kc_variable_value(p->watch[i])) != p->watch_version[i]) return false;
    return true;
}
