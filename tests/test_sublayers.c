/* Layers that own layers (kc_layer_track_layer): Keras' weight order
 * (own weights, then the tracked layers'; trainable before non-trainable;
 * frozen: everything non-trainable), weight names under the owner,
 * freezing, losses and penalties of the tracked layers, the constructor
 * written over from_config (kc_object_from_args), and save / load of a
 * model holding such layers, with the tracked layers rebuilt from the
 * owner's arguments or nested in its config. */
#include "testutil.h"

#include <string.h>

static kc_error err;
static void setup(void) { kc_error_clear(&err); }

/* ---- ResidualBlock(units, activation): x + scale * dense_2(dense_1(x)) ---- */

typedef struct block {
    kc_layer base;
    int64_t units;
    kc_object *activation;      /* its own reference */
    kc_object *dense1, *dense2; /* borrowed: tracked (owned) by the block */
    kc_object *norm;            /* borrowed, optional: a BatchNormalization with moving statistics */
    bool with_norm;
    kc_variable *scale;
} block;

typedef struct block_args {
    KC_LAYER_ARGS;
    int64_t units;      /* required */
    kc_spec activation; /* relu */
    kc_bool with_norm;  /* false */
} block_args;

static const kc_arg_field block_fields[] = {KC_ARG_LAYER(block_args), KC_ARG(block_args, units),
                                            KC_ARG_OBJECT(block_args, activation, KC_KIND_ACTIVATION),
                                            KC_ARG(block_args, with_norm)};

static void block_fini(kc_object *self) { kc_object_unref(((block *)self)->activation); }

/* __init__: the arguments, and the layers they make */
static kc_status block_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *e)
{
    block *b = (block *)self;
    kc_status rc = kc_cfg_int(ctx, cfg, "units", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &b->units, e);
    if (rc == KC_OK) rc = kc_cfg_object(ctx, cfg, "activation", KC_KIND_ACTIVATION, "relu", &b->activation, e);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "with_norm", 0, false, &b->with_norm, e);
    if (rc != KC_OK) return rc;
    b->dense1 = kc_layer_track_layer_take(
        self, "dense_1", kc_layers_dense(&(kc_layers_dense_args){.units = b->units, .activation = KC_OBJECT(b->activation),
                                                      .kernel_regularizer = KC_NAME("l2")},
                              e),
        e);
    b->dense2 = kc_layer_track_layer_take(
        self, "dense_2", kc_layers_dense(&(kc_layers_dense_args){.units = b->units, .activity_regularizer = KC_NAME("l1")}, e),
        e);
    if (b->with_norm) b->norm = kc_layer_track_layer_take(self, "norm", kc_layers_batch_normalization(NULL, e), e);
    return b->dense2 && (b->norm || !b->with_norm) ? KC_OK : e->code;
}

static kc_status block_get_config(const kc_object *self, json_t *cfg, kc_error *e)
{
    const block *b = (const block *)self;
    if (json_object_set_new(cfg, "units", json_integer(b->units)) ||
        json_object_set_new(cfg, "with_norm", json_boolean(b->with_norm)))
        return KC_ENOMEM;
    return kc_cfg_set_object(cfg, "activation", b->activation, e);
}

/* build the tracked layers here, so that a loaded model has every weight */
static kc_status block_build(kc_object *self, const kc_shape *in, int n_in, kc_error *e)
{
    (void)n_in;
    block *b = (block *)self;
    kc_shape hidden = in[0];
    hidden.dims[hidden.ndim - 1] = b->units;
    b->scale = kc_layer_add_weight(self, "scale", 1, &b->units, NULL, NULL, NULL, true, e);
    kc_status rc = b->scale ? kc_layer_build(b->dense1, &in[0], 1, e) : e->code;
    if (rc == KC_OK) rc = kc_layer_build(b->dense2, &hidden, 1, e);
    if (rc == KC_OK && b->norm) rc = kc_layer_build(b->norm, &hidden, 1, e);
    if (rc == KC_OK) kc_tensor_fill(kc_variable_value(b->scale), 0.5);
    return rc;
}

static kc_status block_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *e)
{
    (void)n_out;
    block *b = (block *)self;
    kc_scope *s = kc_scope_new(e);
    kc_tensor *h = kc_scope_take(s, kc_layer_call1(b->dense1, a->inputs[0], a->training, e));
    h = kc_scope_take(s, kc_layer_call1(b->dense2, h, a->training, e));
    if (b->norm) h = kc_scope_take(s, kc_layer_call1(b->norm, h, a->training, e));
    out[0] = kc_scope_return(s, kc_s_add(s, a->inputs[0], kc_s_mul(s, h, kc_variable_value(b->scale))));
    return out[0] ? KC_OK : e->code;
}

static const kc_layer_methods block_methods = {.build = block_build, .call = block_call};
static const kc_class block_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_LAYER, .name = "ResidualBlock",
                                     .size = sizeof(block), .config_version = 1, .fini = block_fini,
                                     .get_config = block_get_config, .from_config = block_from_config,
                                     .methods = &block_methods};

/* ResidualBlock(units, ...): the constructor is from_config's */
static kc_object *block_new(const block_args *a, kc_error *e)
{
    return kc_object_from_args(&block_class, block_fields, KC_ARRAY_SIZE(block_fields), a, e);
}

static const char *weight_name(kc_object *layer, int i) { return kc_variable_name(kc_layer_weight(layer, i)); }

static bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

START_TEST(tracked_weights_follow_keras_order_and_names)
{
    kc_object *b = block_new(&(block_args){.units = 4, .name = "res"}, &err);
    CK_NN(b, err);
    kc_shape in = kc_shape_make(2, (int64_t[]){-1, 4});
    ck_assert_int_eq(kc_layer_build(b, &in, 1, &err), KC_OK);
    /* Layer.weights: own first (scale), then dense_1's, then dense_2's */
    ck_assert_int_eq(kc_layer_num_weights(b), 5);
    ck_assert_int_eq(kc_layer_num_trainable_weights(b), 5);
    ck_assert_str_eq(weight_name(b, 0), "res/scale:0");
    block *blk = (block *)b;
    char want[128];
    snprintf(want, sizeof want, "res/%s/kernel:0", kc_layer_name(blk->dense1));
    ck_assert_str_eq(weight_name(b, 1), want);
    snprintf(want, sizeof want, "res/%s/bias:0", kc_layer_name(blk->dense2));
    ck_assert_str_eq(weight_name(b, 4), want);
    ck_assert_int_eq(kc_layer_count_params(b), 4 + 2 * (16 + 4));
    kc_object_unref(b);
}
END_TEST

START_TEST(non_trainable_and_frozen_orders)
{
    kc_object *b = block_new(&(block_args){.units = 2, .with_norm = KC_TRUE, .name = "resn"}, &err);
    CK_NN(b, err);
    kc_shape in = kc_shape_make(2, (int64_t[]){-1, 2});
    ck_assert_int_eq(kc_layer_build(b, &in, 1, &err), KC_OK);
    /* trainable: scale, dense_1 (2), dense_2 (2), gamma, beta; non-trainable: moving mean, variance */
    ck_assert_int_eq(kc_layer_num_trainable_weights(b), 7);
    ck_assert_int_eq(kc_layer_num_non_trainable_weights(b), 2);
    ck_assert_msg(strstr(kc_variable_name(kc_layer_non_trainable_weight(b, 0)), "moving_mean"), "%s",
                  kc_variable_name(kc_layer_non_trainable_weight(b, 0)));
    ck_assert_msg(strstr(weight_name(b, 5), "gamma"), "%s", weight_name(b, 5));
    /* frozen: nothing trainable; own weights first, then each tracked layer's */
    kc_layer_set_trainable(b, false);
    ck_assert_int_eq(kc_layer_num_trainable_weights(b), 0);
    ck_assert_int_eq(kc_layer_num_non_trainable_weights(b), 9);
    ck_assert_str_eq(weight_name(b, 0), "resn/scale:0");
    ck_assert_msg(strstr(weight_name(b, 5), "gamma") && strstr(weight_name(b, 7), "moving_mean"), "%s %s",
                  weight_name(b, 5), weight_name(b, 7));
    ck_assert(!kc_layer_trainable(((block *)b)->dense1));
    kc_layer_set_trainable(b, true);
    ck_assert_int_eq(kc_layer_num_trainable_weights(b), 7);
    kc_object_unref(b);
}
END_TEST

START_TEST(tracked_losses_and_penalties_are_the_owners)
{
    kc_object *b = block_new(&(block_args){.units = 3}, &err);
    CK_NN(b, err);
    kc_tensor *x = tu_random(2, (int64_t[]){5, 3}, -1, 1, 7);
    kc_tensor *y = kc_layer_call1(b, x, true, &err);
    CK_NN(y, err);
    /* dense_2's activity regularizer, added during the call */
    ck_assert_int_eq(kc_layer_num_losses(b), 1);
    /* dense_1's kernel regularizer */
    kc_tensor *pen;
    ck_assert_int_eq(kc_layer_regularization_loss(b, &pen, &err), KC_OK);
    CK_NN(pen, err);
    kc_tensor *k = kc_variable_value(kc_layer_weight(((block *)b)->dense1, 0));
    double want = 0;
    for (int64_t i = 0; i < kc_tensor_size(k); i++) want += 0.01 * kc_tensor_get(k, i) * kc_tensor_get(k, i);
    ck_assert_double_eq_tol(kc_tensor_item(pen), want, 1e-6);
    kc_tensor_unref(pen);
    kc_tensor_unref(y);
    kc_tensor_unref(x);
    kc_object_unref(b);
}
END_TEST

START_TEST(tracking_errors)
{
    kc_object *a = kc_layers_dense(&(kc_layers_dense_args){.units = 2}, &err);
    kc_object *b = kc_layers_dense(&(kc_layers_dense_args){.units = 2}, &err);
    CK_NN(b, err);
    ck_assert_int_eq(kc_layer_track_layer(a, "self", a, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "cannot contain itself");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_layer_track_layer(a, "b", b, &err), KC_OK);
    ck_assert_int_eq(kc_layer_track_layer(a, "b", b, &err), KC_OK); /* twice: once */
    ck_assert_int_eq(kc_layer_track_layer(b, NULL, a, &err), KC_EINVAL); /* a cycle */
    kc_error_clear(&err);
    /* another layer under a taken attribute; an attribute that is not a name */
    kc_object *c = kc_layer_track_layer_take(a, "b", kc_layers_dense(&(kc_layers_dense_args){.units = 1}, &err), &err);
    ck_assert_ptr_null(c);
    CK_ERR(err, KC_EEXIST, "already tracks a layer as 'b'");
    kc_error_clear(&err);
    c = kc_layer_track_layer_take(a, "x/y", kc_layers_dense(&(kc_layers_dense_args){.units = 1}, &err), &err);
    ck_assert_ptr_null(c);
    CK_ERR(err, KC_EINVAL, "not an attribute name");
    kc_error_clear(&err);
    /* _take of a failed constructor: NULL, the constructor's error kept, nothing leaked */
    c = kc_layer_track_layer_take(a, "c", kc_layers_dense(&(kc_layers_dense_args){.units = -1}, &err), &err);
    ck_assert_ptr_null(c);
    CK_ERR(err, KC_EFORMAT, "kc_layers_dense.units");
    kc_error_clear(&err);
    ck_assert_int_eq(kc_layer_track_layer(a, "d", NULL, &err), KC_EINVAL);
    kc_object_unref(b);
    kc_object_unref(a);
}
END_TEST

/* Save a Sequential holding a block, load it through custom_objects: the
 * block rebuilds its tracked layers from its own arguments, and the file's
 * weights land in them, by position. */
START_TEST(saved_and_loaded_with_the_owner)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/block.h5", tu_tmpdir());
    kc_object *model = kc_sequential_new_take(
        "with_block",
        (kc_object *[]){kc_layers_input_layer(&(kc_layers_args){.input_shape = KC_SHAPE(4)}, &err),
                        block_new(&(block_args){.units = 4, .activation = KC_NAME("tanh"), .with_norm = KC_TRUE},
                                  &err),
                        kc_layers_dense(&(kc_layers_dense_args){.units = 1}, &err)},
        3, &err);
    CK_NN(model, err);
    ck_assert_int_eq(kc_model_compile(model, "{\"optimizer\": \"adam\", \"loss\": \"mse\"}", NULL, &err), KC_OK);
    kc_tensor *x = tu_random(2, (int64_t[]){16, 4}, -1, 1, 3), *y = tu_random(2, (int64_t[]){16, 1}, -1, 1, 4);
    kc_fit_args fit = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .epochs = 2, .batch_size = 8};
    ck_assert_msg(kc_model_fit(model, &fit, NULL, &err) == KC_OK, "%s (%s)", err.message, err.context);
    ck_assert_int_eq(kc_model_save(model, path, NULL, &err), KC_OK);

    /* the file stores the block's weights in its group, the tracked layers' under its name */
    kc_h5file *f = kc_h5file_open(path, &err);
    CK_NN(f, err);
    const kc_h5file_layer *layers;
    const kc_h5file_weight *w;
    size_t nl, nw;
    ck_assert_int_eq(kc_h5file_layers(f, &layers, &nl, &err), KC_OK);
    ck_assert_int_eq(kc_h5file_weights(f, &w, &nw, &err), KC_OK);
    const kc_object *blk = kc_model_layer(model, 0);
    const kc_h5file_layer *group = NULL;
    for (size_t i = 0; i < nl; i++)
        if (strcmp(layers[i].name, kc_layer_name(blk)) == 0) group = &layers[i];
    ck_assert_ptr_nonnull(group);
    ck_assert_int_eq((int)group->n_weights, 9);
    ck_assert_msg(starts_with(w[group->first_weight + 1].name, kc_layer_name(blk)), "%s",
                  w[group->first_weight + 1].name);
    kc_h5file_close(f);

    kc_object *bad = kc_model_load(path, NULL, &err);
    ck_assert_ptr_null(bad);
    CK_ERR(err, KC_ENOTFOUND, "ResidualBlock");
    kc_error_clear(&err);
    kc_custom_objects *co = kc_custom_objects_new(&err);
    ck_assert_int_eq(kc_custom_objects_add_class(co, NULL, &block_class, &err), KC_OK);
    kc_load_options opts = {.custom_objects = co};
    kc_object *loaded = kc_model_load(path, &opts, &err);
    ck_assert_msg(loaded != NULL, "%s (%s)", err.message, err.context);
    ck_assert_int_eq(kc_layer_num_weights(loaded), kc_layer_num_weights(model));
    for (int i = 0; i < kc_layer_num_weights(model); i++)
        tu_assert_tensors_close(kc_variable_value(kc_layer_weight(loaded, i)),
                                kc_variable_value(kc_layer_weight(model, i)), 0, 0, weight_name(model, i));
    kc_tensor *p1, *p2;
    int n;
    ck_assert_int_eq(kc_model_predict(model, &x, 1, 0, &p1, &n, &err), KC_OK);
    ck_assert_int_eq(kc_model_predict(loaded, &x, 1, 0, &p2, &n, &err), KC_OK);
    tu_assert_tensors_close(p2, p1, 0, 0, "predictions after load");
    /* the loaded block trains on (its optimizer state came back too) */
    ck_assert_int_eq(kc_model_fit(loaded, &fit, NULL, &err), KC_OK);
    kc_tensor *t[] = {p1, p2, x, y};
    for (int i = 0; i < 4; i++) kc_tensor_unref(t[i]);
    kc_custom_objects_free(co);
    kc_object_unref(loaded);
    kc_object_unref(model);
}
END_TEST

/* ---- Wrapper(layer): the tracked layer's whole config nested in its own ---- */

typedef struct wrapper {
    kc_layer base;
    kc_object *inner; /* borrowed: tracked */
} wrapper;

static kc_status wrapper_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx, kc_error *e)
{
    kc_object *inner = NULL;
    kc_status rc = kc_cfg_object(ctx, cfg, "layer", KC_KIND_LAYER, NULL, &inner, e);
    if (rc == KC_OK && !inner) rc = kc_error_set(e, KC_EFORMAT, "Wrapper needs a layer");
    if (rc == KC_OK) ((wrapper *)self)->inner = kc_layer_track_layer_take(self, "layer", inner, e);
    else kc_object_unref(inner);
    return rc == KC_OK && !((wrapper *)self)->inner ? e->code : rc;
}
static kc_status wrapper_get_config(const kc_object *self, json_t *cfg, kc_error *e)
{
    return kc_cfg_set_object(cfg, "layer", ((const wrapper *)self)->inner, e);
}
static kc_status wrapper_build(kc_object *self, const kc_shape *in, int n_in, kc_error *e)
{
    return kc_layer_build(((wrapper *)self)->inner, in, n_in, e);
}
static kc_status wrapper_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                               kc_error *e)
{
    return kc_layer_compute_output_shape(((const wrapper *)self)->inner, in, n_in, out, n_out, e);
}
static kc_status wrapper_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out, kc_error *e)
{
    (void)n_out;
    out[0] = kc_layer_call1(((wrapper *)self)->inner, a->inputs[0], a->training, e);
    return out[0] ? KC_OK : e->code;
}
static const kc_layer_methods wrapper_methods = {
    .build = wrapper_build, .call = wrapper_call, .compute_output_shape = wrapper_shape};
static const kc_class wrapper_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_LAYER, .name = "Wrapper",
                                       .size = sizeof(wrapper), .config_version = 1,
                                       .get_config = wrapper_get_config, .from_config = wrapper_from_config,
                                       .methods = &wrapper_methods};

typedef struct wrapper_args {
    KC_LAYER_ARGS;
    kc_spec layer;
} wrapper_args;
static const kc_arg_field wrapper_fields[] = {KC_ARG_LAYER(wrapper_args),
                                              KC_ARG_OBJECT(wrapper_args, layer, KC_KIND_LAYER)};

START_TEST(nested_config_round_trips)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/wrapper.h5", tu_tmpdir());
    kc_object *dense = kc_layers_dense(&(kc_layers_dense_args){.units = 3, .name = "inner_dense"}, &err);
    kc_object *wrap = kc_object_from_args(&wrapper_class, wrapper_fields, KC_ARRAY_SIZE(wrapper_fields),
                                          &(wrapper_args){.layer = KC_OBJECT(dense), .name = "wrap"}, &err);
    CK_NN(wrap, err);
    ck_assert_ptr_eq(((wrapper *)wrap)->inner, dense); /* the very object, shared */
    kc_object_unref(dense);
    json_t *cfg;
    ck_assert_int_eq(kc_object_get_config(wrap, &cfg, &err), KC_OK);
    const json_t *layer = json_object_get(cfg, "layer");
    ck_assert_str_eq(json_string_value(json_object_get(layer, "class_name")), "Dense");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(layer, "config"), "name")), "inner_dense");
    json_decref(cfg);

    kc_symbol *in = kc_input(1, (int64_t[]){2}, NULL, &err);
    kc_symbol *out = kc_apply_take(wrap, &in, 1, &err);
    CK_NN(out, err);
    kc_object *model = kc_functional_new(&in, 1, &out, 1, "wrapped", &err);
    CK_NN(model, err);
    kc_symbol_unref(in);
    kc_symbol_unref(out);
    ck_assert_int_eq(kc_layer_num_weights(model), 2);
    ck_assert_str_eq(weight_name(model, 0), "wrap/inner_dense/kernel:0");
    ck_assert_int_eq(kc_model_save(model, path, NULL, &err), KC_OK);
    kc_custom_objects *co = kc_custom_objects_new(&err);
    ck_assert_int_eq(kc_custom_objects_add_class(co, NULL, &wrapper_class, &err), KC_OK);
    kc_load_options opts = {.custom_objects = co};
    kc_object *loaded = kc_model_load(path, &opts, &err);
    ck_assert_msg(loaded != NULL, "%s (%s)", err.message, err.context);
    tu_assert_tensors_close(kc_variable_value(kc_layer_weight(loaded, 0)),
                            kc_variable_value(kc_layer_weight(model, 0)), 0, 0, "kernel after load");
    kc_custom_objects_free(co);
    kc_object_unref(loaded);
    kc_object_unref(model);
}
END_TEST


/* Keras 3 files: the block's own vars, then each tracked layer at
 * <block>/<attribute>, in sorted attribute order; .keras and .weights.h5
 * round trips. */
START_TEST(keras3_files_keep_tracked_layers_under_their_attributes)
{
    char archive[4096], weights[4096];
    snprintf(archive, sizeof archive, "%s/block.keras", tu_tmpdir());
    snprintf(weights, sizeof weights, "%s/block.weights.h5", tu_tmpdir());
    kc_object *model = kc_sequential_new_take(
        "k3_block",
        (kc_object *[]){kc_layers_input_layer(&(kc_layers_args){.input_shape = KC_SHAPE(3)}, &err),
                        block_new(&(block_args){.units = 3, .with_norm = KC_TRUE}, &err)},
        2, &err);
    CK_NN(model, err);
    ck_assert_msg(kc_model_save(model, archive, NULL, &err) == KC_OK, "%s (%s)", err.message, err.context);
    ck_assert_msg(kc_model_save_weights(model, weights, NULL, &err) == KC_OK, "%s (%s)", err.message, err.context);
    kc_h5file *f = kc_h5file_open(weights, &err);
    CK_NN(f, err);
    const kc_h5file_weight *w;
    size_t nw;
    ck_assert_int_eq(kc_h5file_weights(f, &w, &nw, &err), KC_OK);
    /* (listed in the file's group order, which is by name) */
    static const char *const want[] = {
        "/layers/residual_block/dense_1/vars/0", "/layers/residual_block/dense_1/vars/1",
        "/layers/residual_block/dense_2/vars/0", "/layers/residual_block/dense_2/vars/1",
        "/layers/residual_block/norm/vars/0",    "/layers/residual_block/norm/vars/1",
        "/layers/residual_block/norm/vars/2",    "/layers/residual_block/norm/vars/3",
        "/layers/residual_block/vars/0"};
    ck_assert_int_eq((int)nw, 9);
    for (size_t i = 0; i < nw; i++) ck_assert_str_eq(w[i].path, want[i]);
    kc_h5file_close(f);

    kc_custom_objects *co = kc_custom_objects_new(&err);
    ck_assert_int_eq(kc_custom_objects_add_class(co, NULL, &block_class, &err), KC_OK);
    kc_load_options opts = {.custom_objects = co};
    kc_object *loaded = kc_model_load(archive, &opts, &err);
    ck_assert_msg(loaded != NULL, "%s (%s)", err.message, err.context);
    for (int i = 0; i < kc_layer_num_weights(model); i++)
        tu_assert_tensors_close(kc_variable_value(kc_layer_weight(loaded, i)),
                                kc_variable_value(kc_layer_weight(model, i)), 0, 0, weight_name(model, i));
    /* the weights file into a new model built the same way */
    kc_object *fresh = kc_sequential_new_take(
        "k3_fresh",
        (kc_object *[]){kc_layers_input_layer(&(kc_layers_args){.input_shape = KC_SHAPE(3)}, &err),
                        block_new(&(block_args){.units = 3, .with_norm = KC_TRUE}, &err)},
        2, &err);
    ck_assert_msg(kc_model_load_weights(fresh, weights, NULL, &err) == KC_OK, "%s (%s)", err.message, err.context);
    for (int i = 0; i < kc_layer_num_weights(model); i++)
        tu_assert_tensors_close(kc_variable_value(kc_layer_weight(fresh, i)),
                                kc_variable_value(kc_layer_weight(model, i)), 0, 0, weight_name(model, i));
    kc_object_unref(fresh);
    kc_object_unref(loaded);
    kc_custom_objects_free(co);
    kc_object_unref(model);
}
END_TEST

static Suite *sublayers_suite(void)
{
    Suite *s = suite_create("sublayers");
    TCase *tc = tcase_create("tracking");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, tracked_weights_follow_keras_order_and_names);
    tcase_add_test(tc, non_trainable_and_frozen_orders);
    tcase_add_test(tc, tracked_losses_and_penalties_are_the_owners);
    tcase_add_test(tc, tracking_errors);
    tcase_add_test(tc, saved_and_loaded_with_the_owner);
    tcase_add_test(tc, nested_config_round_trips);
    tcase_add_test(tc, keras3_files_keep_tracked_layers_under_their_attributes);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(sublayers_suite)
