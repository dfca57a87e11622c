/* Checking models against TensorFlow.js goldens (see golden.h). */
#include "golden.h"

#include <math.h>

kc_tensor *tu_json_tensor(const json_t *j)
{
    kc_error err = {0};
    kc_tensor *t = NULL;
    kc_status rc = kc_tensor_from_json(j, &t, &err);
    ck_assert_msg(rc == KC_OK, "golden tensor: %s", err.message);
    return t;
}

json_t *tu_load_json(const char *rel)
{
    json_error_t je;
    json_t *root = json_load_file(tu_data(rel), 0, &je);
    ck_assert_msg(root != NULL, "%s: %s", rel, je.text);
    return root;
}

kc_object *tu_golden_model(const json_t *root, const char *label)
{
    kc_error err = {0};
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "model_config", NULL);
    kc_object *m = NULL;
    kc_status rc = kc_deserialize(KC_KIND_MODEL, json_object_get(root, "model_config"), &ctx, &m, &err);
    ck_assert_msg(rc == KC_OK && m, "%s: %s (%s)", label, err.message, err.context);
    const json_t *jw = json_object_get(root, "weights");
    int nw = (int)json_array_size(jw);
    ck_assert_int_eq(nw, kc_layer_num_weights(m));
    ck_assert_int_le(nw, 64);
    kc_tensor *w[64];
    for (int i = 0; i < nw; i++) w[i] = tu_json_tensor(json_array_get(jw, (size_t)i));
    rc = kc_layer_set_weights(m, w, nw, &err);
    ck_assert_msg(rc == KC_OK, "%s: %s", label, err.message);
    for (int i = 0; i < nw; i++) kc_tensor_unref(w[i]);
    return m;
}

void tu_check_io(kc_object *m, const json_t *io, const char *label, double rtol, double atol)
{
    kc_error err = {0};
    const json_t *jin = json_object_get(io, "inputs"), *jout = json_object_get(io, "outputs");
    kc_tensor *ins[16], *outs[32];
    int n_in = (int)json_array_size(jin), n_out = 0;
    ck_assert_int_le(n_in, 16);
    for (int i = 0; i < n_in; i++) ins[i] = tu_json_tensor(json_array_get(jin, (size_t)i));
    kc_status rc = kc_model_predict(m, ins, n_in, 32, outs, &n_out, &err);
    ck_assert_msg(rc == KC_OK, "%s: %s (%s)", label, err.message, err.context);
    ck_assert_int_eq(n_out, (int)json_array_size(jout));
    for (int i = 0; i < n_out; i++) {
        kc_tensor *want = tu_json_tensor(json_array_get(jout, (size_t)i));
        char what[256];
        snprintf(what, sizeof(what), "%s output %d vs TensorFlow.js", label, i);
        tu_assert_tensors_close(outs[i], want, rtol, atol, what);
        kc_tensor_unref(want);
        kc_tensor_unref(outs[i]);
    }
    for (int i = 0; i < n_in; i++) kc_tensor_unref(ins[i]);
}

void tu_check_grads(kc_object *m, const json_t *root, const char *label)
{
    kc_error err = {0};
    const json_t *jin = json_object_get(root, "inputs"), *jt = json_object_get(root, "targets");
    const json_t *jg = json_object_get(root, "grads");
    int n_in = (int)json_array_size(jin);
    ck_assert_int_le(n_in, 16);
    kc_tensor *ins[16], *tg[32], *ys[32];
    for (int i = 0; i < n_in; i++) ins[i] = tu_json_tensor(json_array_get(jin, (size_t)i));
    kc_tape *tape = kc_tape_begin(0, &err);
    CK_NN(tape, err);
    int ny = 0;
    kc_status rc = kc_layer_call(m, ins, n_in, NULL, true, ys, NULL, &ny, &err);
    ck_assert_msg(rc == KC_OK, "%s: %s (%s)", label, err.message, err.context);
    kc_scope *s = kc_scope_new(&err);
    kc_tensor *total = NULL;
    for (int i = 0; i < ny; i++) {
        tg[i] = tu_json_tensor(json_array_get(jt, (size_t)i));
        kc_tensor *d = kc_scope_take(s, kc_sub(ys[i], tg[i], &err));
        kc_tensor *t = kc_scope_take(s, kc_reduce_mean(kc_scope_take(s, kc_square(d, &err)), NULL, 0, false, &err));
        total = total ? kc_scope_take(s, kc_add(total, t, &err)) : t;
    }
    kc_tape_end(tape);
    CK_NN(total, err);
    double want_loss = json_number_value(json_object_get(root, "loss"));
    ck_assert_msg(fabs(kc_tensor_item(total) - want_loss) <= 1e-5 * fabs(want_loss) + 1e-6,
                  "%s: training loss %.9g, TensorFlow.js %.9g", label, kc_tensor_item(total), want_loss);
    int nt = kc_layer_num_trainable_weights(m);
    ck_assert_int_eq(nt, (int)json_array_size(jg));
    ck_assert_int_le(nt, 64);
    kc_tensor *src[64], *g[64];
    for (int i = 0; i < nt; i++) src[i] = kc_variable_value(kc_layer_trainable_weight(m, i));
    rc = kc_tape_gradient(tape, total, src, nt, g, &err);
    ck_assert_msg(rc == KC_OK, "%s: %s", label, err.message);
    for (int i = 0; i < nt; i++) {
        kc_tensor *want = tu_json_tensor(json_array_get(jg, (size_t)i));
        char what[256];
        snprintf(what, sizeof(what), "%s gradient of %s vs TensorFlow.js", label,
                 kc_variable_name(kc_layer_trainable_weight(m, i)));
        ck_assert_msg(g[i] != NULL, "%s: no gradient", what);
        tu_assert_tensors_close(g[i], want, 1e-4, 1e-6, what);
        kc_tensor_unref(want);
        kc_tensor_unref(g[i]);
    }
    for (int i = 0; i < ny; i++) {
        kc_tensor_unref(ys[i]);
        kc_tensor_unref(tg[i]);
    }
    for (int i = 0; i < n_in; i++) kc_tensor_unref(ins[i]);
    kc_scope_free(s);
    kc_tape_free(tape);
}

void tu_check_golden(const char *rel, double rtol, double atol)
{
    json_t *root = tu_load_json(rel);
    kc_object *m = tu_golden_model(root, rel);
    tu_check_io(m, root, rel, rtol, atol);
    if (json_object_get(root, "grads")) tu_check_grads(m, root, rel);
    kc_object_unref(m);
    json_decref(root);
}
