/* Whole-model gradients against TensorFlow.js.
 *
 * tests/data/grad/<kind>.json holds a keras-ref fixture (weights, inputs,
 * targets) and the gradients keras-ref computed with TensorFlow.js for two
 * losses: mse (sum over outputs of mean((y - t)^2)) and sum (sum of all
 * outputs). See tests/data/grad/make-goldens for how they were made. The
 * models are rebuilt here from ops (the layer classes come later), with
 * each Dense layer's activation read from the stored model_config. */
#include "testutil.h"

#include <jansson.h>
#include <string.h>

typedef struct model_data {
    json_t *root;
    kc_variable *w[16];
    const char *wname[16];
    int n_w;
} model_data;

static kc_tensor *tensor_from_json(json_t *j)
{
    json_t *shape = json_object_get(j, "shape"), *data = json_object_get(j, "data");
    ck_assert(json_is_array(shape) && json_is_array(data));
    int64_t dims[KC_MAX_DIMS];
    int nd = (int)json_array_size(shape);
    for (int i = 0; i < nd; i++) dims[i] = json_integer_value(json_array_get(shape, i));
    kc_error err = {0};
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, nd, dims, &err);
    CK_NN(t, err);
    ck_assert_int_eq((int64_t)json_array_size(data), kc_tensor_size(t));
    float *p = kc_tensor_f32(t);
    for (size_t i = 0; i < json_array_size(data); i++) p[i] = (float)json_number_value(json_array_get(data, i));
    return t;
}

static void load(model_data *m, const char *file)
{
    json_error_t je;
    m->root = json_load_file(tu_data(file), 0, &je);
    ck_assert_msg(m->root != NULL, "%s: %s (line %d)", file, je.text, je.line);
    json_t *ws = json_object_get(m->root, "weights");
    m->n_w = (int)json_array_size(ws);
    ck_assert(m->n_w <= 16);
    kc_error err = {0};
    for (int i = 0; i < m->n_w; i++) {
        json_t *w = json_array_get(ws, i);
        m->wname[i] = json_string_value(json_object_get(w, "name"));
        m->w[i] = kc_variable_new_take(m->wname[i], tensor_from_json(w), true, &err);
        CK_NN(m->w[i], err);
    }
}

static void unload(model_data *m)
{
    for (int i = 0; i < m->n_w; i++) kc_variable_unref(m->w[i]);
    json_decref(m->root);
}

static kc_tensor *weight(model_data *m, const char *name)
{
    for (int i = 0; i < m->n_w; i++)
        if (strcmp(m->wname[i], name) == 0) return kc_variable_value(m->w[i]);
    ck_abort_msg("no weight %s", name);
    return NULL;
}

/* The activation of the Dense layer called `layer` in model_config. */
static const char *activation_of(model_data *m, const char *layer)
{
    json_t *layers = json_object_get(json_object_get(json_object_get(m->root, "model_config"), "config"), "layers");
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *cfg = json_object_get(json_array_get(layers, i), "config");
        if (strcmp(json_string_value(json_object_get(cfg, "name")), layer) == 0)
            return json_string_value(json_object_get(cfg, "activation"));
    }
    ck_abort_msg("no layer %s", layer);
    return NULL;
}

static kc_tensor *dense(model_data *m, kc_scope *s, kc_tensor *x, const char *layer, kc_error *err)
{
    char kn[64], bn[64];
    snprintf(kn, sizeof(kn), "%s/kernel:0", layer);
    snprintf(bn, sizeof(bn), "%s/bias:0", layer);
    kc_tensor *z = kc_scope_take(s, kc_matmul(x, weight(m, kn), false, false, err));
    z = kc_scope_take(s, kc_add(z, weight(m, bn), err));
    const char *act = activation_of(m, layer);
    if (strcmp(act, "linear") == 0) return z;
    if (strcmp(act, "relu") == 0) return kc_scope_take(s, kc_relu(z, err));
    if (strcmp(act, "tanh") == 0) return kc_scope_take(s, kc_tanh(z, err));
    if (strcmp(act, "elu") == 0) return kc_scope_take(s, kc_elu(z, 1.0f, err));
    if (strcmp(act, "softmax") == 0) return kc_scope_take(s, kc_softmax(z, -1, err));
    ck_abort_msg("activation %s not handled by this test", act);
    return NULL;
}

/* Forward pass; fills outs, returns the number of outputs. */
static int forward(model_data *m, kc_scope *s, kc_tensor **ins, kc_tensor **outs, kc_error *err)
{
    const char *kind = json_string_value(json_object_get(m->root, "kind"));
    if (strcmp(kind, "mlp") == 0) {
        kc_tensor *h = dense(m, s, ins[0], "dense", err);
        h = dense(m, s, h, "dense_1", err);
        outs[0] = dense(m, s, h, "dense_2", err);
        return 1;
    }
    kc_tensor *a = dense(m, s, ins[0], "dense_a", err);
    kc_tensor *b = dense(m, s, ins[1], "dense_b", err);
    kc_tensor *ab[2] = {a, b};
    kc_tensor *c = kc_scope_take(s, kc_concat(ab, 2, -1, err));
    kc_tensor *h = dense(m, s, c, "dense", err);
    outs[0] = dense(m, s, h, "out_class", err);
    outs[1] = dense(m, s, h, "out_reg", err);
    return 2;
}

static void check_model(const char *file)
{
    model_data m = {0};
    load(&m, file);
    kc_error err = {0};
    json_t *jin = json_object_get(m.root, "inputs"), *jt = json_object_get(m.root, "targets");
    json_t *jout = json_object_get(m.root, "outputs");
    kc_tensor *ins[4], *tg[4];
    for (size_t i = 0; i < json_array_size(jin); i++) ins[i] = tensor_from_json(json_array_get(jin, i));
    for (size_t i = 0; i < json_array_size(jt); i++) tg[i] = tensor_from_json(json_array_get(jt, i));

    static const char *losses[2] = {"mse", "sum"};
    for (int li = 0; li < 2; li++) {
        kc_scope *s = kc_scope_new(&err);
        kc_tape *tape = kc_tape_begin(0, &err);
        kc_tensor *outs[4];
        int n_out = forward(&m, s, ins, outs, &err);
        kc_tensor *total = NULL;
        for (int o = 0; o < n_out; o++) {
            kc_tensor *term;
            if (li == 0) {
                kc_tensor *d = kc_scope_take(s, kc_sub(outs[o], tg[o], &err));
                term = kc_scope_take(s, kc_reduce_mean(kc_scope_take(s, kc_square(d, &err)), NULL, 0, false, &err));
            } else {
                term = kc_scope_take(s, kc_reduce_sum(outs[o], NULL, 0, false, &err));
            }
            total = total ? kc_scope_take(s, kc_add(total, term, &err)) : term;
        }
        kc_tape_end(tape);
        CK_NN(total, err);
        if (li == 0)
            for (int o = 0; o < n_out; o++) {
                kc_tensor *want = tensor_from_json(json_array_get(jout, o));
                tu_assert_tensors_close(outs[o], want, 1e-5, 1e-6, "prediction vs TensorFlow.js");
                kc_tensor_unref(want);
            }
        json_t *gold = json_object_get(m.root, losses[li]);
        double want_loss = json_number_value(json_object_get(gold, "loss"));
        ck_assert_msg(fabs(kc_tensor_item(total) - want_loss) <= 1e-5 * fabs(want_loss) + 1e-6,
                      "%s %s loss %.9g, TensorFlow.js %.9g", file, losses[li], kc_tensor_item(total),
                      want_loss);
        kc_tensor *src[16], *g[16];
        for (int i = 0; i < m.n_w; i++) src[i] = kc_variable_value(m.w[i]);
        CK_OK(kc_tape_gradient(tape, total, src, m.n_w, g, &err));
        json_t *jg = json_object_get(gold, "grads");
        ck_assert_int_eq((int)json_array_size(jg), m.n_w);
        for (int i = 0; i < m.n_w; i++) {
            json_t *gi = json_array_get(jg, i);
            ck_assert_str_eq(json_string_value(json_object_get(gi, "name")), m.wname[i]);
            kc_tensor *want = tensor_from_json(gi);
            char label[128];
            snprintf(label, sizeof(label), "%s %s d/d %s", file, losses[li], m.wname[i]);
            tu_assert_tensors_close(g[i], want, 1e-4, 1e-6, label);
            kc_tensor_unref(want);
            kc_tensor_unref(g[i]);
        }
        kc_tape_free(tape);
        kc_scope_free(s);
    }
    for (size_t i = 0; i < json_array_size(jin); i++) kc_tensor_unref(ins[i]);
    for (size_t i = 0; i < json_array_size(jt); i++) kc_tensor_unref(tg[i]);
    unload(&m);
}

START_TEST(mlp_gradients_match_tensorflow_js) { check_model("grad/mlp.json"); }
END_TEST

START_TEST(functional_two_in_two_out_gradients_match_tensorflow_js)
{
    check_model("grad/functional.json");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("keras_grad");
    TCase *tc = tcase_create("tensorflow.js goldens");
    tcase_add_test(tc, mlp_gradients_match_tensorflow_js);
    tcase_add_test(tc, functional_two_in_two_out_gradients_match_tensorflow_js);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(make_suite)
