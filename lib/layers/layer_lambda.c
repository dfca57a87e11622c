/* Lambda: a layer that calls a registered C function.
 *
 * Keras saves Python lambdas as marshalled bytecode; loading that would run
 * code from the file, so ckeras never does (Keras 3's safe mode refuses it
 * too). A ckeras Lambda names a function registered with
 * kc_register_function(KC_KIND_LAMBDA, ...) or given in custom_objects,
 * and is saved as Keras' named-function form (spec §8.4):
 *   {"function": "Package>fn", "function_type": "function", "module": null,
 *    "output_shape": null | [dims], "output_shape_type": "raw",
 *    "output_shape_module": null, "arguments": {}}
 * Its output shape is output_shape (without the batch dimension) or, when
 * null, found by calling the function once on zeros.
 *
 * A Keras file's bytecode Lambda loads when a function of kind
 * KC_KIND_LAMBDA is given under the layer's name ("lambda_1"): the C
 * function replaces the Python one, which is never looked at. It is then
 * saved under that name. */
#include "layers_int.h"

#include <string.h>

typedef struct lambda {
    kc_layer base;
    kc_object *fn; /* a KC_KIND_LAMBDA function object */
    bool has_output_shape;
    kc_shape output_shape; /* without the batch dimension */
} lambda;

static void lambda_fini(kc_object *self) { kc_object_unref(((lambda *)self)->fn); }

static kc_status lambda_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    lambda *l = (lambda *)self;
    const json_t *f = json_object_get(cfg, "function");
    const char *type = NULL;
    kc_status rc = kc_cfg_string(ctx, cfg, "function_type", KC_CFG_NULLABLE, "function", &type, err);
    if (rc != KC_OK) return rc;
    kc_config_ctx fc = kc_config_ctx_child(ctx, "function", 0);
    if (strcmp(type, "lambda") == 0 || json_is_array(f) ||
        (json_is_object(f) && json_is_string(json_object_get(f, "class_name")) &&
         strcmp(json_string_value(json_object_get(f, "class_name")), "__lambda__") == 0)) {
        /* The code is never run; a C function given under the layer's
         * name (custom_objects or the registry) stands in for it. */
        json_t *by_name = json_string(kc_layer_name(self));
        kc_error probe = {0};
        rc = by_name ? kc_deserialize(KC_KIND_LAMBDA, by_name, &fc, &l->fn, &probe) : KC_ENOMEM;
        json_decref(by_name);
        if (rc != KC_OK || !l->fn || !kc_object_is_function(l->fn)) {
            kc_object_unref(l->fn);
            l->fn = NULL;
            kc__errf(err, KC_EUNSUPPORTED,
                     "Lambda layer '%s' holds Python bytecode, which ckeras never runs; give a C "
                     "function of kind KC_KIND_LAMBDA named '%s' in custom_objects (or register one)",
                     kc_layer_name(self), kc_layer_name(self));
            kc__error_context(err, "%s", fc.path);
            return KC_EUNSUPPORTED;
        }
    } else if (!f) {
        kc__errf(err, KC_EFORMAT, "%s: missing (expected the name of a registered function)", fc.path);
        return KC_EFORMAT;
    }
    if (!l->fn && (rc = kc_deserialize(KC_KIND_LAMBDA, f, &fc, &l->fn, err)) != KC_OK) return rc;
    if (!l->fn || !kc_object_is_function(l->fn)) {
        kc_object_unref(l->fn);
        l->fn = NULL;
        kc__errf(err, KC_EFORMAT, "%s: expected the name of a registered function", fc.path);
        return KC_EFORMAT;
    }
    const char *ost = NULL;
    rc = kc_cfg_string(ctx, cfg, "output_shape_type", KC_CFG_NULLABLE, "raw", &ost, err);
    if (rc == KC_OK && strcmp(ost, "raw") != 0)
        rc = kc__errf(err, KC_EUNSUPPORTED, "%s.output_shape: only literal shapes are supported", ctx->path);
    if (rc == KC_OK) {
        const json_t *os = json_object_get(cfg, "output_shape");
        if (json_is_array(os) && json_array_size(os) > 0 && json_is_array(json_array_get(os, 0)))
            rc = kc__errf(err, KC_EUNSUPPORTED, "%s.output_shape: multiple outputs are not supported", ctx->path);
        else
            rc = kc__cfg_shape(ctx, cfg, "output_shape", &l->has_output_shape, &l->output_shape, err);
    }
    const json_t *args = json_object_get(cfg, "arguments");
    if (rc == KC_OK && args && !json_is_null(args) && (!json_is_object(args) || json_object_size(args) > 0))
        rc = kc__errf(err, KC_EUNSUPPORTED, "%s.arguments: Lambda arguments are not supported (bind "
                      "parameters to the function instead)", ctx->path);
    return rc;
}

static kc_status lambda_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const lambda *l = (const lambda *)self;
    json_t *os = l->has_output_shape ? kc__shape_to_json(&l->output_shape) : json_null();
    if (json_object_set_new(cfg, "function", json_string(kc_object_name(l->fn))) ||
        json_object_set_new(cfg, "function_type", json_string("function")) ||
        json_object_set_new(cfg, "module", json_null()) || json_object_set_new(cfg, "output_shape", os) ||
        json_object_set_new(cfg, "output_shape_type", json_string("raw")) ||
        json_object_set_new(cfg, "output_shape_module", json_null()) ||
        json_object_set_new(cfg, "arguments", json_object()))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_tensor *run(const lambda *l, kc_tensor *const *in, int n, kc_error *err)
{
    const kc__function *f = (const kc__function *)l->fn;
    kc_tensor *y = ((kc_lambda_fn)f->fn)(in, n, f->params, err);
    if (!y && err && err->code == KC_OK)
        kc__errf(err, KC_EINTERNAL, "Lambda function '%s' failed without saying why", f->name);
    return y;
}

static kc_status lambda_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                              int *n_out, kc_error *err)
{
    const lambda *l = (const lambda *)self;
    *n_out = 1;
    if (l->has_output_shape) {
        if (l->output_shape.ndim + 1 > KC_MAX_DIMS) return kc__errf(err, KC_ESHAPE, "output_shape is too deep");
        out[0].ndim = l->output_shape.ndim + 1;
        out[0].dims[0] = in[0].ndim ? in[0].dims[0] : -1;
        for (int i = 0; i < l->output_shape.ndim; i++) out[0].dims[i + 1] = l->output_shape.dims[i];
        return KC_OK;
    }
    /* no declared shape: run the function once on zeros (unknown dims = 1) */
    kc_tensor *z[64];
    kc_status rc = KC_OK;
    int made = 0;
    for (; made < n_in && made < 64; made++) {
        kc_shape s = in[made];
        for (int d = 0; d < s.ndim; d++)
            if (s.dims[d] < 0) s.dims[d] = 1;
        z[made] = kc_tensor_zeros(KC_FLOAT32, s.ndim, s.dims, err);
        if (!z[made]) {
            rc = kc__error_code(err, KC_ENOMEM);
            break;
        }
    }
    if (rc == KC_OK) {
        kc__recording_pause();
        kc_tensor *y = run(l, z, n_in, err);
        kc__recording_resume();
        if (!y) {
            rc = kc__error_code(err, KC_EINTERNAL);
        } else {
            out[0] = kc_tensor_shape(y);
            /* dims that were unknown in the input stay unknown where they map through */
            for (int d = 0; d < out[0].ndim && d < in[0].ndim; d++)
                if (in[0].dims[d] < 0) out[0].dims[d] = -1;
            kc_tensor_unref(y);
        }
    }
    for (int i = 0; i < made; i++) kc_tensor_unref(z[i]);
    return rc;
}

static kc_status lambda_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *err)
{
    (void)n_out;
    out[0] = run((const lambda *)self, a->inputs, a->n_inputs, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_EINTERNAL);
}

static const kc_layer_methods lambda_methods = {
    .min_inputs = 1,
    .max_inputs = 64,
    .call = lambda_call,
    .compute_output_shape = lambda_shape,
};

const kc_class kc__lambda_class = {
    .abi = KC_CLASS_ABI,
    .kind = KC_KIND_LAYER,
    .name = "Lambda",
    .size = sizeof(lambda),
    .config_version = 1,
    .fini = lambda_fini,
    .get_config = lambda_get_config,
    .from_config = lambda_from_config,
    .methods = &lambda_methods,
};
