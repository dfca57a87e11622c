/* Making every process's model the chief's: at the start of a distributed
 * fit (Horovod's BroadcastGlobalVariablesCallback, tf.distribute's mirrored
 * variables initialized from replica 0), and when a model is loaded by the
 * chief for all (kc_strategy_load_model). What is copied: every weight
 * (trainable or not), the optimizer's state (its slots created first where
 * only the chief has them, e.g. restored from a checkpoint), its learning
 * rate, and the global random generator that shuffles the batches. */
#include "distributed_int.h"

#include <ckeras/random.h>

#include <string.h>

/* The bytes of a list of tensors, packed into one broadcast. */
static kc_status broadcast_tensors(kc__mpi_strategy *m, kc_tensor *const *ts, int n, kc_error *err)
{
    int64_t bytes = 0;
    for (int i = 0; i < n; i++) bytes += (int64_t)kc_tensor_nbytes(ts[i]);
    char *buf = kc__malloc((size_t)bytes + 1);
    if (!buf) return kc__errf(err, KC_ENOMEM, "out of memory");
    char *p = buf;
    for (int i = 0; i < n; i++) {
        memcpy(p, kc_tensor_cdata(ts[i]), kc_tensor_nbytes(ts[i]));
        p += kc_tensor_nbytes(ts[i]);
    }
    kc_status rc = kc__dist_broadcast(m, buf, bytes, err);
    p = buf;
    for (int i = 0; rc == KC_OK && i < n; i++) {
        memcpy(kc_tensor_data(ts[i]), p, kc_tensor_nbytes(ts[i]));
        p += kc_tensor_nbytes(ts[i]);
    }
    kc__free(buf);
    return rc;
}

static kc_status broadcast_vars(kc__mpi_strategy *m, kc_variable *const *vars, int n, kc_error *err)
{
    kc_tensor **ts = kc__calloc((size_t)n + 1, sizeof(kc_tensor *));
    if (!ts) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) ts[i] = kc_variable_value(vars[i]);
    kc_status rc = broadcast_tensors(m, ts, n, err);
    kc__free(ts);
    return rc;
}

static kc_status broadcast_weights(kc__mpi_strategy *m, kc_object *model, kc_error *err)
{
    int n = kc_layer_num_weights(model);
    kc_variable **vars = kc__calloc((size_t)n + 1, sizeof(kc_variable *));
    if (!vars) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) vars[i] = kc_layer_weight(model, i);
    kc_status rc = broadcast_vars(m, vars, n, err);
    kc__free(vars);
    return rc;
}

/* The optimizer: where the chief's state exists and a process's does not
 * (the chief restored it from a file), that process creates its slots the
 * way a loaded model does (trainable weights in order); then the values. */
static kc_status broadcast_optimizer(kc__mpi_strategy *m, kc_object *model, kc_error *err)
{
    kc_object *opt = kc_model_optimizer(model);
    if (!opt) return KC_OK;
    /* {number of weights, learning rate bits} of the chief */
    double head[2] = {(double)kc_optimizer_num_weights(opt), kc_optimizer_current_lr(opt)};
    kc_status rc = kc__dist_broadcast(m, head, sizeof head, err);
    if (rc != KC_OK) return rc;
    int chief_n = (int)head[0];
    kc_status local = KC_OK;
    if (chief_n > 0 && kc_optimizer_num_weights(opt) == 0) {
        int nt = kc_layer_num_trainable_weights(model);
        kc_variable **vars = kc__calloc((size_t)nt + 1, sizeof(kc_variable *));
        if (!vars) local = kc__errf(err, KC_ENOMEM, "out of memory");
        for (int i = 0; local == KC_OK && i < nt; i++) vars[i] = kc_layer_trainable_weight(model, i);
        if (local == KC_OK) local = kc_optimizer_build(opt, vars, nt, err);
        kc__free(vars);
    }
    if (local != KC_OK) return local;
    int n = kc_optimizer_num_weights(opt);
    if (n != chief_n)
        return kc__errf(err, KC_ESTATE, "the optimizer has %d weights here and %d on process 0", n, chief_n);
    kc_tensor **ts = kc__calloc((size_t)n + 1, sizeof(kc_tensor *));
    if (!ts) return kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) ts[i] = kc_optimizer_weight(opt, i, NULL, 0);
    rc = broadcast_tensors(m, ts, n, err);
    kc__free(ts);
    /* a constant rate set on the chief (ReduceLROnPlateau in an earlier fit) */
    const kc_optimizer *o = (const kc_optimizer *)opt;
    if (rc == KC_OK && !o->schedule && o->decay == 0 && head[1] != o->learning_rate)
        rc = kc_optimizer_set_learning_rate(opt, head[1], err);
    return rc;
}

static kc_status broadcast_model(kc__mpi_strategy *m, kc_object *model, kc_error *err)
{
    kc_status rc = broadcast_weights(m, model, err);
    if (rc == KC_OK) rc = broadcast_optimizer(m, model, err);
    if (rc == KC_OK) {
        kc_rng *g = kc_global_rng();
        rc = kc__dist_broadcast(m, g->s, sizeof g->s, err);
    }
    return rc;
}

kc_status kc__dist_replicate(kc_strategy *s, kc_object *model, kc_tensor *const *x, int n_x, kc_error *err)
{
    /* a model built by its first call would draw different weights on
     * each process after the copy: build it first, from the data's shapes */
    kc_status rc = KC_OK;
    if (!kc__as_layer(model)->built && x && n_x > 0) {
        kc_shape shapes[KC_MAX_LAYER_OUTPUTS * 4];
        for (int i = 0; i < n_x && i < KC_MAX_LAYER_OUTPUTS * 4; i++) {
            shapes[i] = kc_tensor_shape(x[i]);
            shapes[i].dims[0] = -1;
        }
        rc = kc_model_build(model, shapes, n_x, err);
    }
    return rc == KC_OK ? broadcast_model(kc__mpi(s), model, err) : rc;
}

kc_status kc_strategy_broadcast_variables(kc_strategy *s, kc_variable *const *vars, int n, kc_error *err)
{
    if (!s) return kc__errf(err, KC_EINVAL, "kc_strategy_broadcast_variables: strategy is NULL");
    kc_status rc = n < 0 || (n > 0 && !vars) ? kc__errf(err, KC_EINVAL, "bad variable list (n = %d)", n) : KC_OK;
    for (int i = 0; rc == KC_OK && i < n; i++)
        if (!vars[i]) rc = kc__errf(err, KC_EINVAL, "variable %d is NULL", i);
    if (rc == KC_OK) rc = broadcast_vars(kc__mpi(s), vars, n, err);
    return kc__dist_agree(s, rc, NULL, err);
}

kc_status kc_strategy_broadcast_model(kc_strategy *s, kc_object *model, kc_error *err)
{
    if (!s) return kc__errf(err, KC_EINVAL, "kc_strategy_broadcast_model: strategy is NULL");
    kc_status rc = kc_is_model(model) ? broadcast_model(kc__mpi(s), model, err)
                                      : kc__errf(err, KC_EINVAL, "kc_strategy_broadcast_model: not a model");
    return kc__dist_agree(s, rc, NULL, err);
}

/* ---- loading on the chief ---------------------------------------------------------------------- */

/* The chief's model as JSON texts: model config (with build_config) and
 * training config ("" when not compiled). */
static kc_status describe(kc_object *model, char **cfg_text, char **tc_text, kc_error *err)
{
    json_t *cfg = NULL, *tc = NULL, *bc = NULL;
    kc_status rc = kc_serialize(model, &cfg, err);
    if (rc == KC_OK) rc = kc__model_build_config(model, &bc, err);
    if (rc == KC_OK && bc && json_object_set_new(cfg, "build_config", bc)) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK && kc_model_is_compiled(model)) rc = kc_model_training_config(model, &tc, err);
    if (rc == KC_OK && !(*cfg_text = kc_json_dump(cfg, err))) rc = kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK && !(*tc_text = tc ? kc_json_dump(tc, err) : kc__strdup(""))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    json_decref(cfg);
    json_decref(tc);
    return rc;
}

/* A text from the chief: its length, then its bytes. */
static kc_status broadcast_text(kc__mpi_strategy *m, char **text, kc_error *err)
{
    int64_t len = m->base.rank == 0 ? (int64_t)strlen(*text) : 0;
    kc_status rc = kc__dist_broadcast(m, &len, sizeof len, err);
    if (rc == KC_OK && m->base.rank != 0 && !(*text = kc__malloc((size_t)len + 1))) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    /* a failure here is announced by kc__dist_agree: the others' broadcast meets it */
    if (rc == KC_OK) rc = kc__dist_broadcast(m, *text, len, err);
    if (rc == KC_OK) (*text)[len] = '\0';
    return rc;
}

static kc_object *rebuild(const char *cfg_text, const char *tc_text, const kc_load_options *o, kc_error *err)
{
    json_t *cfg = kc_json_parse(cfg_text, strlen(cfg_text), 0, err);
    if (!cfg) return NULL;
    kc_object *model = NULL;
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "model_config", o ? o->custom_objects : NULL);
    kc_status rc = kc_deserialize(KC_KIND_MODEL, cfg, &ctx, &model, err);
    if (rc == KC_OK && !kc_is_model(model)) rc = kc__errf(err, KC_EFORMAT, "model_config does not describe a model");
    if (rc == KC_OK) rc = kc__model_build_from_config(model, json_object_get(cfg, "build_config"), &ctx, err);
    json_decref(cfg);
    if (rc == KC_OK && tc_text[0] && !(o && o->no_compile)) rc = kc_model_compile(model, tc_text, o ? o->custom_objects : NULL, err);
    if (rc != KC_OK) {
        kc_object_unref(model);
        return NULL;
    }
    return model;
}

kc_object *kc_strategy_load_model(kc_strategy *s, const char *path, const kc_load_options *opts, kc_error *err)
{
    if (!s) {
        kc__errf(err, KC_EINVAL, "kc_strategy_load_model: strategy is NULL");
        return NULL;
    }
    kc__mpi_strategy *m = kc__mpi(s);
    kc_object *model = NULL;
    char *cfg = NULL, *tc = NULL;
    kc_status rc = KC_OK;
    if (s->rank == 0) {
        model = kc_model_load(path, opts, err);
        rc = model ? describe(model, &cfg, &tc, err) : kc__error_code(err, KC_EIO);
    }
    if (rc == KC_OK) rc = broadcast_text(m, &cfg, err);
    if (rc == KC_OK) rc = broadcast_text(m, &tc, err);
    if (rc == KC_OK && s->rank != 0 && !(model = rebuild(cfg, tc, opts, err))) rc = kc__error_code(err, KC_EFORMAT);
    if (rc == KC_OK) rc = broadcast_model(m, model, err);
    kc__free(cfg);
    kc__free(tc);
    rc = kc__dist_agree(s, rc, NULL, err);
    if (rc != KC_OK) {
        kc_object_unref(model);
        return NULL;
    }
    return model;
}
