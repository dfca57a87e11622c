/* The inference path's entry points and each model's plans.
 *
 * A model keeps up to MAX_PLANS plans, one per set of input shapes (a
 * predict with a last, shorter batch uses two), the least recently used
 * giving way. Before a plan runs it is checked: another layer generation
 * (layers added, removed, rebuilt, frozen) means building it again; a
 * weight it folded having been written (set_weights, load_weights, an
 * optimizer step, BatchNormalization statistics in training) means
 * folding again. A model that cannot have a plan remembers that until its
 * layers change.
 *
 * Outputs: the tensors handed out last are kept, and handed out again when
 * the caller has dropped every reference to them (tensor and buffer), so a
 * loop of predicts with the same shapes allocates nothing. */
#include "inference.h"
#include "plan_int.h"

#include <ckeras/runtime.h>
#include <string.h>

#define MAX_PLANS 4

typedef struct plan_cache {
    kc__plan *plans[MAX_PLANS];
    unsigned long used[MAX_PLANS]; /* last use, for eviction */
    unsigned long tick;
    bool refused;                  /* no plan for this model... */
    unsigned long refused_generation; /* ...while its layers stay as they are */
    kc_tensor *outs[KC__MAX_MODEL_IO];
    /* the arena one sample needs (predict's rows per run), for these
     * one-sample input shapes and this layer generation */
    size_t sample_bytes;
    kc_shape sample_shapes[KC__MAX_MODEL_IO];
    kc_dtype sample_dtypes[KC__MAX_MODEL_IO];
    int sample_inputs;             /* 0: not estimated */
    unsigned long sample_generation;
} plan_cache;

static atomic_bool plans_off;

void kc_set_inference_plans(bool on) { atomic_store(&plans_off, !on); }
bool kc_get_inference_plans(void) { return !atomic_load(&plans_off); }

static void cache_free(void *ptr)
{
    plan_cache *c = ptr;
    for (int i = 0; i < MAX_PLANS; i++) kc__plan_free(c->plans[i]);
    for (int i = 0; i < KC__MAX_MODEL_IO; i++) kc_tensor_unref(c->outs[i]);
    kc__free(c);
}

static plan_cache *cache_of(kc_object *model)
{
    kc__model_state *ms = kc__mstate(model);
    if (!ms->inference) {
        ms->inference = kc__calloc(1, sizeof(plan_cache));
        ms->inference_free = cache_free;
    }
    return ms->inference;
}

/* The same n input shapes and dtypes as the na in `as` and `ad`. */
static bool same_inputs(const kc_shape *as, const kc_dtype *ad, int na, const kc_shape *shapes, const kc_dtype *dtypes,
                        int n)
{
    if (na != n) return false;
    for (int i = 0; i < n; i++)
        if (dtypes[i] != ad[i] || !kc_shape_equal(&shapes[i], &as[i])) return false;
    return true;
}

/* *out = the plan for these inputs, valid, or NULL (no plan: the op-by-op
 * path). Failures to build are not reported -- the op-by-op path reports
 * them, or succeeds where the plan cannot -- except running out of memory,
 * which is the caller's error as anywhere else. */
static kc_status plan_for(kc_object *model, const kc_shape *shapes, const kc_dtype *dtypes, int n, kc__plan **out,
                          kc_error *err)
{
    *out = NULL;
    plan_cache *c = cache_of(model);
    if (!c) return kc__errf(err, KC_ENOMEM, "out of memory for the inference plans of model '%s'", kc_layer_name(model));
    if (c->refused && c->refused_generation == kc__layers_generation) return KC_OK;
    c->refused = false;
    kc_error quiet = {0};
    int slot = -1;
    for (int i = 0; i < MAX_PLANS && slot < 0; i++)
        if (c->plans[i] && same_inputs(c->plans[i]->in_shapes, c->plans[i]->in_dtypes, c->plans[i]->n_inputs, shapes,
                                       dtypes, n))
            slot = i;
    if (slot >= 0) {
        kc__plan *p = c->plans[slot];
        if (!kc__plan_valid(p)) {
            /* weights changed: fold again; layers changed: build again */
            if (p->generation != kc__layers_generation || kc__plan_prepare(p, &quiet) != KC_OK) {
                kc__plan_free(p);
                c->plans[slot] = NULL;
                slot = -1;
                if (quiet.code == KC_ENOMEM) {
                    *err = quiet;
                    return KC_ENOMEM;
                }
            }
        }
    }
    if (slot < 0) {
        for (int i = 0; i < MAX_PLANS && slot < 0; i++)
            if (!c->plans[i]) slot = i;
        if (slot < 0) {
            slot = 0;
            for (int i = 1; i < MAX_PLANS; i++)
                if (c->used[i] < c->used[slot]) slot = i;
            kc__plan_free(c->plans[slot]);
            c->plans[slot] = NULL;
        }
        bool refused = false;
        kc__plan *p = NULL;
        if (kc__plan_build(model, shapes, dtypes, n, &p, &refused, &quiet) != KC_OK || refused) {
            if (refused) {
                c->refused = true;
                c->refused_generation = kc__layers_generation;
            }
            if (quiet.code == KC_ENOMEM) {
                *err = quiet;
                return KC_ENOMEM;
            }
            return KC_OK;
        }
        c->plans[slot] = p;
    }
    c->used[slot] = ++c->tick;
    *out = c->plans[slot];
    return KC_OK;
}

/* Output i of the given shape: the last one handed out if nobody holds it
 * any more, else a new tensor. */
static kc_tensor *output_tensor(plan_cache *c, int i, kc_dtype dtype, int ndim, const int64_t *dims, kc_error *err)
{
    kc_tensor *t = c->outs[i];
    if (t && atomic_load(&t->refcount) == 1 && atomic_load(&t->storage->refcount) == 1 && t->dtype == dtype &&
        !t->storage->external && t->ndim == ndim && memcmp(t->dims, dims, sizeof(int64_t) * (size_t)ndim) == 0)
        return kc_tensor_ref(t);
    kc_tensor *fresh = kc_tensor_empty(dtype, ndim, dims, err);
    if (!fresh) return NULL;
    kc_tensor_unref(c->outs[i]);
    c->outs[i] = kc_tensor_ref(fresh);
    return fresh;
}

static void drop(kc_tensor **out, int n)
{
    for (int i = 0; i < n; i++) {
        kc_tensor_unref(out[i]);
        out[i] = NULL;
    }
}

kc_status kc__infer_call(kc_object *model, const kc_call_args *args, kc_tensor **out, int n_out, bool *ran,
                         kc_error *err)
{
    *ran = false;
    if (args->training || kc__recording() || kc__call_depth != 1 || !kc_get_inference_plans()) return KC_OK;
    for (int i = 0; args->masks && i < args->n_inputs; i++)
        if (args->masks[i]) return KC_OK;
    kc_shape shapes[KC__MAX_MODEL_IO];
    kc_dtype dtypes[KC__MAX_MODEL_IO];
    if (args->n_inputs < 1 || args->n_inputs > KC__MAX_MODEL_IO) return KC_OK;
    for (int i = 0; i < args->n_inputs; i++) {
        shapes[i] = kc_tensor_shape(args->inputs[i]);
        dtypes[i] = kc_tensor_dtype(args->inputs[i]);
    }
    kc__plan *p = NULL;
    kc_status prc = plan_for(model, shapes, dtypes, args->n_inputs, &p, err);
    if (prc != KC_OK) return prc;
    if (!p || p->call_losses || p->n_outputs != n_out) return KC_OK;
    plan_cache *c = cache_of(model);
    const void *in[KC__MAX_MODEL_IO];
    void *o[KC__MAX_MODEL_IO];
    for (int i = 0; i < args->n_inputs; i++) in[i] = kc_tensor_cdata(args->inputs[i]);
    for (int i = 0; i < n_out; i++) {
        const kc__pvalue *v = &p->values[p->output_value[i]];
        if (!(out[i] = output_tensor(c, i, v->dtype, v->ndim, v->dims, err))) {
            drop(out, i);
            return kc__error_code(err, KC_ENOMEM);
        }
        o[i] = out[i]->data;
    }
    bool fallback = false;
    kc_status rc = kc__plan_run(p, in, o, &fallback, err);
    if (rc != KC_OK || fallback) {
        drop(out, n_out);
        return rc;
    }
    *ran = true;
    return KC_OK;
}

/* Rows per plan run in predict: the batch, cut so that one run's
 * intermediates fit in about PREDICT_ARENA_BYTES. A model with large
 * activations (MobileNetV2 at 224x224: 3.4 MB a sample) run on 32 samples
 * at once streams every layer's output through main memory; 8 at a time
 * keep more of them in the last-level cache (measured, predicts
 * alternating in one process: batch 32 10-15% faster on one thread, the
 * same on two). At least ROWS_PER_THREAD rows a thread, in multiples of
 * that (fewer, or uneven groups, left a thread idle and were slower), so
 * the pool still has samples to share out. Outputs are per sample: the
 * cut changes nothing but the convolutions' slicing (a rounding apart, as
 * any other batch size). The estimate lays out a one-sample plan (no
 * weights, no primitives) once per input shape and layer generation. */
#define PREDICT_ARENA_BYTES ((size_t)32 << 20)
#define ROWS_PER_THREAD 8

static kc_status rows_per_run(kc_object *model, kc_tensor *const *inputs, int n_inputs, int64_t *rows, kc_error *err)
{
    int64_t floor_rows = (int64_t)ROWS_PER_THREAD * kc__num_threads();
    if (*rows <= floor_rows) return KC_OK;
    plan_cache *c = cache_of(model);
    if (!c) return kc__errf(err, KC_ENOMEM, "out of memory for the inference plans of model '%s'", kc_layer_name(model));
    kc_shape shapes[KC__MAX_MODEL_IO];
    kc_dtype dtypes[KC__MAX_MODEL_IO];
    for (int i = 0; i < n_inputs; i++) {
        shapes[i] = kc_tensor_shape(inputs[i]);
        shapes[i].dims[0] = 1;
        dtypes[i] = kc_tensor_dtype(inputs[i]);
    }
    if (c->sample_generation != kc__layers_generation ||
        !same_inputs(c->sample_shapes, c->sample_dtypes, c->sample_inputs, shapes, dtypes, n_inputs)) {
        kc_error quiet = {0};
        size_t bytes = 0;
        if (kc__plan_arena_estimate(model, shapes, dtypes, n_inputs, &bytes, &quiet) != KC_OK) {
            if (quiet.code == KC_ENOMEM) {
                *err = quiet;
                return KC_ENOMEM;
            }
            bytes = 0; /* the plan itself will say, or the op-by-op path */
        }
        c->sample_bytes = bytes;
        c->sample_inputs = n_inputs;
        c->sample_generation = kc__layers_generation;
        memcpy(c->sample_shapes, shapes, sizeof(kc_shape) * (size_t)n_inputs);
        memcpy(c->sample_dtypes, dtypes, sizeof(kc_dtype) * (size_t)n_inputs);
    }
    if (!c->sample_bytes) return KC_OK;
    /* a multiple of the floor, so that images share out evenly */
    int64_t fit = (int64_t)(PREDICT_ARENA_BYTES / c->sample_bytes) / floor_rows * floor_rows;
    fit = fit > floor_rows ? fit : floor_rows;
    if (fit < *rows) *rows = fit;
    return KC_OK;
}

kc_status kc__infer_predict(kc_object *model, kc_tensor *const *inputs, int n_inputs, int64_t batch_size,
                            kc_tensor **outputs, int *n_out, bool *ran, kc_error *err)
{
    *ran = false;
    *n_out = 0;
    if (!kc_is_model(model) || (!kc__is_sequential(model) && !kc__is_functional(model)) || !kc_get_inference_plans())
        return KC_OK;
    int64_t n = kc_tensor_dim(inputs[0], 0);
    if (n <= 0) return KC_OK;
    int64_t full = n < batch_size ? n : batch_size;
    kc_status crc = rows_per_run(model, inputs, n_inputs, &full, err);
    if (crc != KC_OK) return crc;
    int64_t last = n % full;
    /* the plans: whole batches, and the shorter last one */
    kc_shape shapes[KC__MAX_MODEL_IO];
    kc_dtype dtypes[KC__MAX_MODEL_IO];
    kc__plan *plans[2] = {NULL, NULL};
    for (int k = 0; k < (last ? 2 : 1); k++) {
        for (int i = 0; i < n_inputs; i++) {
            shapes[i] = kc_tensor_shape(inputs[i]);
            shapes[i].dims[0] = k ? last : full;
            dtypes[i] = kc_tensor_dtype(inputs[i]);
        }
        kc_status prc = plan_for(model, shapes, dtypes, n_inputs, &plans[k], err);
        if (prc != KC_OK || !plans[k]) return prc;
    }
    kc__plan *p = plans[0];
    if (plans[1] && plans[1]->n_outputs != p->n_outputs) return KC_OK;
    /* every output must have the batch axis first, as predict joins them on it */
    for (int i = 0; i < p->n_outputs; i++) {
        const kc__pvalue *v = &p->values[p->output_value[i]];
        if (v->ndim < 1 || v->dims[0] != full) return KC_OK;
        if (plans[1] && p->values[p->output_value[i]].dtype != plans[1]->values[plans[1]->output_value[i]].dtype)
            return KC_OK;
    }
    plan_cache *c = cache_of(model);
    size_t in_row[KC__MAX_MODEL_IO], out_row[KC__MAX_MODEL_IO];
    for (int i = 0; i < n_inputs; i++) in_row[i] = kc_tensor_nbytes(inputs[i]) / (size_t)n;
    int heads = p->n_outputs;
    for (int i = 0; i < heads; i++) {
        const kc__pvalue *v = &p->values[p->output_value[i]];
        int64_t od[KC_MAX_DIMS];
        memcpy(od, v->dims, sizeof(od));
        od[0] = n;
        if (!(outputs[i] = output_tensor(c, i, v->dtype, v->ndim, od, err))) {
            drop(outputs, i);
            return kc__error_code(err, KC_ENOMEM);
        }
        out_row[i] = kc_tensor_nbytes(outputs[i]) / (size_t)n;
    }
    kc_status rc = KC_OK;
    bool fallback = false;
    for (int64_t start = 0; start < n && rc == KC_OK && !fallback; start += full) {
        kc__plan *q = n - start < full ? plans[1] : plans[0];
        const void *in[KC__MAX_MODEL_IO];
        void *o[KC__MAX_MODEL_IO];
        for (int i = 0; i < n_inputs; i++) in[i] = (const char *)inputs[i]->data + (size_t)start * in_row[i];
        for (int i = 0; i < heads; i++) o[i] = (char *)outputs[i]->data + (size_t)start * out_row[i];
        rc = kc__plan_run(q, in, o, &fallback, err);
    }
    if (rc != KC_OK || fallback) {
        drop(outputs, heads);
        return rc;
    }
    *n_out = heads;
    *ran = true;
    return KC_OK;
}
