/* Bidirectional: an RNN run forwards and a copy run backwards, outputs
 * merged (concat, sum, mul, ave, or None: both returned).
 *
 * As tf.keras: the wrapped layer's config is kept as given (get_config
 * writes it under "layer"), and two fresh layers are made from it,
 * "forward_<name>" and "backward_<name>" (go_backwards flipped), unless a
 * "backward_layer" is given; both must agree on stateful, return_sequences
 * and return_state and differ in go_backwards. Their weights are the
 * wrapper's: forward's, then backward's. When returning sequences the
 * backward output is flipped back to input order, and both layers output
 * zeros at masked steps (Keras forces zero_output_for_mask there). Initial
 * states given as extra inputs go half to each layer; with return_state the
 * outputs are the merged output, the forward states, the backward states. */
#include "rnn_int.h"

#include <string.h>

enum { MERGE_CONCAT, MERGE_SUM, MERGE_MUL, MERGE_AVE, MERGE_NONE };
static const char *const merge_names[] = {"concat", "sum", "mul", "ave"};

typedef struct bidir {
    kc_layer base;
    kc_object *layer;          /* the wrapped layer as configured (owned, never built) */
    json_t *backward_config;   /* a given backward_layer's config, written back (owned) */
    kc__rnn *fwd, *bwd;        /* owned */
    int merge;
} bidir;

static kc_status bidir_init(kc_object *self, kc_error *err)
{
    (void)err;
    bidir *b = (bidir *)self;
    b->base.supports_masking = true;
    b->merge = MERGE_CONCAT;
    return KC_OK;
}

static void bidir_fini(kc_object *self)
{
    bidir *b = (bidir *)self;
    kc_object_unref(b->layer);
    kc_object_unref((kc_object *)b->fwd);
    kc_object_unref((kc_object *)b->bwd);
    json_decref(b->backward_config);
}

bool kc__is_bidirectional(const kc_object *o);

kc__rnn *kc__bidirectional_half(const kc_object *o, int i)
{
    const bidir *b = (const bidir *)o;
    return i == 0 ? b->fwd : b->bwd;
}

static kc_status fail_at(kc_error *err, kc_status code, const kc_config_ctx *ctx, const char *key, const char *msg)
{
    kc__errf(err, code, "%s.%s: %s", ctx->path, key, msg);
    kc__error_context(err, "%s.%s", ctx->path, key);
    return code;
}

static kc_status read_rnn(const json_t *cfg, const char *key, const kc_config_ctx *ctx, kc_object **out,
                          kc_error *err)
{
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    kc_status rc = kc_deserialize(KC_KIND_LAYER, json_object_get(cfg, key), &c, out, err);
    if (rc != KC_OK) return rc;
    if (!kc__is_rnn(*out)) {
        kc__errf(err, KC_EUNSUPPORTED, "%s: Bidirectional wraps SimpleRNN, LSTM, GRU or RNN layers, not '%s'",
                 c.path, *out ? kc_object_name(*out) : "null");
        kc__error_context(err, "%s", c.path);
        kc_object_unref(*out);
        *out = NULL;
        return KC_EUNSUPPORTED;
    }
    return KC_OK;
}

static kc_status verify(const bidir *b, const kc_config_ctx *ctx, kc_error *err)
{
    const kc__rnn *f = b->fwd, *k = b->bwd;
    if (f->go_backwards == k->go_backwards)
        return fail_at(err, KC_EINVAL, ctx, "backward_layer",
                       "Forward layer and backward layer should have different `go_backwards` value.");
    const char *what = f->stateful != k->stateful                 ? "stateful"
                       : f->return_sequences != k->return_sequences ? "return_sequences"
                       : f->return_state != k->return_state         ? "return_state"
                       : kc__rnn_num_states(f) != kc__rnn_num_states(k) ? "states"
                                                                       : NULL;
    if (what) {
        kc__errf(err, KC_EINVAL,
                 "%s.backward_layer: Forward layer and backward layer are expected to have the same value for "
                 "attribute \"%s\"",
                 ctx->path, what);
        kc__error_context(err, "%s.backward_layer", ctx->path);
        return KC_EINVAL;
    }
    return KC_OK;
}

static kc_status bidir_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    bidir *b = (bidir *)self;
    const json_t *mm = json_object_get(cfg, "merge_mode");
    if (mm && json_is_null(mm)) {
        b->merge = MERGE_NONE;
    } else {
        kc_status rc = kc_cfg_choice(ctx, cfg, "merge_mode", 0, merge_names, 4, MERGE_CONCAT, &b->merge, err);
        if (rc != KC_OK) return rc;
    }
    if (!json_object_get(cfg, "layer")) return fail_at(err, KC_EFORMAT, ctx, "layer", "Bidirectional needs a layer");
    kc_status rc = read_rnn(cfg, "layer", ctx, &b->layer, err);
    if (rc != KC_OK) return rc;
    kc_config_ctx lc = kc_config_ctx_child(ctx, "layer", 0);
    b->fwd = (kc__rnn *)kc__rnn_recreate(b->layer, "forward_", false, &lc, err);
    if (!b->fwd) return kc__error_code(err, KC_ENOMEM);
    const json_t *bl = json_object_get(cfg, "backward_layer");
    if (bl && !json_is_null(bl)) {
        kc_object *given = NULL;
        rc = read_rnn(cfg, "backward_layer", ctx, &given, err);
        if (rc != KC_OK) return rc;
        rc = kc_serialize(given, &b->backward_config, err);
        kc_config_ctx bc = kc_config_ctx_child(ctx, "backward_layer", 0);
        if (rc == KC_OK) b->bwd = (kc__rnn *)kc__rnn_recreate(given, "backward_", false, &bc, err);
        kc_object_unref(given);
        if (rc != KC_OK) return rc;
    } else {
        b->bwd = (kc__rnn *)kc__rnn_recreate(b->layer, "backward_", true, &lc, err);
    }
    if (!b->bwd) return kc__error_code(err, KC_ENOMEM);
    /* Keras: masked steps output zeros when the halves return sequences */
    b->fwd->zero_output_for_mask = b->fwd->return_sequences;
    b->bwd->zero_output_for_mask = b->bwd->return_sequences;
    return verify(b, ctx, err);
}

static kc_status bidir_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const bidir *b = (const bidir *)self;
    json_t *layer = NULL;
    kc_status rc = kc_serialize(b->layer, &layer, err);
    if (rc != KC_OK) return rc;
    if (json_object_set_new(cfg, "layer", layer) ||
        json_object_set_new(cfg, "merge_mode", b->merge == MERGE_NONE ? json_null() : json_string(merge_names[b->merge])) ||
        (b->backward_config && json_object_set(cfg, "backward_layer", b->backward_config)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

/* ---- shapes and build ------------------------------------------------------------------- */

static kc_status bidir_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                    int *n_out, kc_error *err)
{
    const bidir *b = (const bidir *)self;
    int ns = kc__rnn_num_states(b->fwd);
    if (n_in != 1 && n_in != 1 + 2 * ns)
        return kc__errf(err, KC_EINVAL,
                        "When passing `initial_state` to a Bidirectional RNN, the state should be a list "
                        "of %d tensors (forward then backward), got %d",
                        2 * ns, n_in - 1);
    kc_shape f[KC_MAX_LAYER_OUTPUTS];
    int nf = 0;
    kc_status rc = kc__layer_methods((const kc_object *)b->fwd)->compute_output_shape((const kc_object *)b->fwd, in,
                                                                                      n_in == 1 ? 1 : 1 + ns, f, &nf, err);
    if (rc != KC_OK) return rc;
    int n = 0;
    out[n] = f[0];
    if (b->merge == MERGE_CONCAT) out[n].dims[out[n].ndim - 1] *= 2;
    n++;
    if (b->merge == MERGE_NONE) out[n++] = f[0];
    for (int rep = 0; rep < 2; rep++)
        for (int i = 1; i < nf; i++) out[n++] = f[i];
    *n_out = n;
    return KC_OK;
}

static kc_status bidir_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    bidir *b = (bidir *)self;
    kc__rnn *halves[2] = {b->fwd, b->bwd};
    for (int i = 0; i < 2; i++) {
        char *scope = kc__scope_join(self, kc_layer_name((kc_object *)halves[i]), err);
        if (!scope) return kc__error_code(err, KC_ENOMEM);
        kc_status rc = kc__layer_build_nested((kc_object *)halves[i], self, scope, in, 1, err);
        kc__free(scope);
        if (rc != KC_OK) return rc;
    }
    return KC_OK;
}

/* ---- calling ------------------------------------------------------------------------------- */

/* y[:, ::-1] along the time axis. */
static kc_tensor *flip_time(kc_tensor *y, kc_error *err)
{
    int64_t T = kc_tensor_dim(y, 1);
    kc_tensor *idx = kc_tensor_empty(KC_INT64, 1, &T, err);
    if (!idx) return NULL;
    int64_t *p = kc_tensor_data(idx);
    for (int64_t t = 0; t < T; t++) p[t] = T - 1 - t;
    kc_tensor *r = kc_gather(y, idx, 1, err);
    kc_tensor_unref(idx);
    return r;
}

static kc_tensor *merge(int mode, kc_tensor *y, kc_tensor *yr, kc_error *err)
{
    switch (mode) {
    case MERGE_CONCAT:
        return kc_concat((kc_tensor *[]){y, yr}, 2, -1, err);
    case MERGE_SUM:
        return kc_add(y, yr, err);
    case MERGE_MUL:
        return kc_mul(y, yr, err);
    default: {
        kc_tensor *s = kc_add(y, yr, err);
        kc_tensor *a = kc_div_scalar(s, 2.0f, err);
        kc_tensor_unref(s);
        return a;
    }
    }
}

static kc_status bidir_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    bidir *b = (bidir *)self;
    int ns = kc__rnn_num_states(b->fwd);
    bool states = a->n_inputs > 1;
    kc_tensor *fo[KC_MAX_LAYER_OUTPUTS] = {0}, *bo[KC_MAX_LAYER_OUTPUTS] = {0};
    int nf = 0, nb = 0;
    kc_tensor *fin[3] = {a->inputs[0]}, *bin[3] = {a->inputs[0]};
    kc_tensor *masks[3] = {a->masks ? a->masks[0] : NULL};
    for (int i = 0; states && i < ns; i++) {
        fin[1 + i] = a->inputs[1 + i];
        bin[1 + i] = a->inputs[1 + ns + i];
    }
    int n_half = states ? 1 + ns : 1;
    kc_status rc = kc__layer_call_nested((kc_object *)b->fwd, self, fin, n_half, masks[0] ? masks : NULL,
                                         a->training, fo, NULL, &nf, err);
    if (rc == KC_OK)
        rc = kc__layer_call_nested((kc_object *)b->bwd, self, bin, n_half, masks[0] ? masks : NULL, a->training,
                                   bo, NULL, &nb, err);
    kc_tensor *yr = NULL;
    if (rc == KC_OK) {
        yr = b->fwd->return_sequences ? flip_time(bo[0], err) : kc_tensor_ref(bo[0]);
        if (!yr) rc = kc__error_code(err, KC_ENOMEM);
    }
    int n = 0;
    if (rc == KC_OK && b->merge == MERGE_NONE) {
        out[n++] = kc_tensor_ref(fo[0]);
        out[n++] = kc_tensor_ref(yr);
    } else if (rc == KC_OK) {
        if (!(out[n++] = merge(b->merge, fo[0], yr, err))) rc = kc__error_code(err, KC_ENOMEM);
    }
    for (int i = 1; rc == KC_OK && i < nf && n < n_out; i++) out[n++] = kc_tensor_ref(fo[i]);
    for (int i = 1; rc == KC_OK && i < nb && n < n_out; i++) out[n++] = kc_tensor_ref(bo[i]);
    if (rc != KC_OK)
        for (int i = 0; i < n; i++) kc_tensor_unref(out[i]), out[i] = NULL;
    kc_tensor_unref(yr);
    for (int i = 0; i < nf; i++) kc_tensor_unref(fo[i]);
    for (int i = 0; i < nb; i++) kc_tensor_unref(bo[i]);
    return rc;
}

static kc_status bidir_mask(kc_object *self, const kc_call_args *a, kc_tensor *const *out, int n_out,
                            kc_tensor **out_masks, kc_error *err)
{
    (void)out, (void)n_out, (void)err;
    const bidir *b = (const bidir *)self;
    if (!b->fwd->return_sequences || !a->masks || !a->masks[0]) return KC_OK;
    out_masks[0] = kc_tensor_ref(a->masks[0]);
    if (b->merge == MERGE_NONE) out_masks[1] = kc_tensor_ref(a->masks[0]);
    return KC_OK;
}

/* The file stores the forward layer's arrays, then the backward's: convert
 * each half as its layer would. */
static kc_status bidir_convert(kc_object *self, kc_tensor *const *in, int n_in, const char *version,
                               const char *backend, kc_tensor **out, int *n_out, kc_error *err)
{
    bidir *b = (bidir *)self;
    *n_out = 0;
    if (n_in % 2) return KC_OK; /* the count check reports it */
    int half = n_in / 2, n = 0;
    bool changed = false;
    kc_status rc = KC_OK;
    kc__rnn *halves[2] = {b->fwd, b->bwd};
    for (int h = 0; h < 2 && rc == KC_OK; h++) {
        kc_tensor *conv[KC_MAX_LAYER_WEIGHTS] = {0};
        int nc = 0;
        rc = kc__layer_methods((kc_object *)halves[h])->convert_weights((kc_object *)halves[h], in + h * half, half,
                                                                         version, backend, conv, &nc, err);
        kc_tensor *const *use = nc ? conv : in + h * half;
        int nu = nc ? nc : half;
        changed |= nc > 0;
        for (int i = 0; rc == KC_OK && i < nu; i++) {
            if (n == KC_MAX_LAYER_WEIGHTS) {
                rc = kc__errf(err, KC_ELIMIT, "layer '%s' stores too many arrays", kc_layer_name(self));
                break;
            }
            out[n++] = kc_tensor_ref(use[i]);
        }
        for (int i = 0; i < nc; i++) kc_tensor_unref(conv[i]);
    }
    if (rc != KC_OK || !changed) {
        for (int i = 0; i < n; i++) kc_tensor_unref(out[i]), out[i] = NULL;
        return rc;
    }
    *n_out = n;
    return KC_OK;
}

static const kc_layer_methods bidir_methods = {
    .min_inputs = 1,
    .max_inputs = 5,
    .build = bidir_build,
    .call = bidir_call,
    .compute_output_shape = bidir_output_shape,
    .compute_mask = bidir_mask,
    .convert_weights = bidir_convert,
};

/* Keras 3 files: the forward and backward RNNs are the attributes
 * "forward_layer" and "backward_layer" (bidirectional.py), each with its
 * cell; the forward one created the first half of the weights. */
static kc_status bidir_keras3_layout(kc_object *self, kc_keras3_tree *tree, kc_error *err)
{
    bidir *b = (bidir *)self;
    int half = kc_keras3_tree_num_weights(tree) / 2;
    kc_status rc = kc_keras3_tree_add_layer(tree, "forward_layer", &b->fwd->base.base, 0, half, err);
    return rc == KC_OK ? kc_keras3_tree_add_layer(tree, "backward_layer", &b->bwd->base.base, half, half, err) : rc;
}

const kc_class kc__bidirectional_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_LAYER,
    .name = "Bidirectional",
    .size = sizeof(bidir),
    .config_version = 1,
    .init = bidir_init,
    .fini = bidir_fini,
    .get_config = bidir_get_config,
    .from_config = bidir_from_config,
    .methods = &bidir_methods,
    .keras3_layout = bidir_keras3_layout,
};

bool kc__is_bidirectional(const kc_object *o) { return o && o->cls == &kc__bidirectional_class; }
