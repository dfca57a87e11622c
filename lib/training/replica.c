/* The training side of data-parallel runs: sharing out batches, the
 * streaming metrics of a step summed over the replicas, and the gradient
 * all-reduce point. It calls the strategy's collective operations and knows
 * nothing of MPI (lib/distributed implements them).
 *
 * Metrics: Keras creates metric variables with aggregation SUM under a
 * distribution strategy (synchronization ON_READ): the global state is the
 * sum of the replicas' states. Every built-in state is such a sum (totals,
 * counts, confusion matrices, AUC's per-threshold counts). A step therefore
 * saves the states, starts them from zero, lets the step add this
 * replica's share, sums those increments over the replicas and adds them
 * back: every replica ends the step holding the global state, so results,
 * logs and every callback's decision are the same everywhere. (A custom
 * metric whose state is not a sum, a running maximum say, is not
 * supported.)
 *
 * Gradients: each replica differentiates its share of the global loss --
 * its batch-mean loss times local_rows / global_rows -- and the replicas'
 * gradients are summed. For Keras' batch-mean losses that is exactly the
 * gradient of the global batch, also when shares differ by a sample (the
 * last batch of an epoch); regularization terms, added by every replica,
 * come out with weight 1 as they should. */
#include "replica.h"
#include "../autodiff/autodiff_int.h"

#include <string.h>

void kc__replica_shard(const kc_strategy *s, int64_t count, int64_t *offset, int64_t *n)
{
    if (!s || s->size <= 1) {
        *offset = 0;
        *n = count;
        return;
    }
    int64_t base = count / s->size, extra = count % s->size, r = s->rank;
    *offset = r * base + (r < extra ? r : extra);
    *n = base + (r < extra ? 1 : 0);
}

kc_status kc__replica_finish(kc_strategy *s, kc_status local, kc_error *err)
{
    return s->ops->agree(s, local, NULL, err);
}

/* ---- metric states ------------------------------------------------------------------------------ */

typedef struct state_list {
    kc_variable **vars;
    size_t n, cap;
} state_list;

static kc_status add_states(state_list *l, kc_object *metric, kc_error *err)
{
    int k = metric ? kc_metric_num_variables(metric) : 0;
    if (k == 0) return KC_OK;
    if (!kc__grow((void **)&l->vars, &l->cap, l->n + (size_t)k, sizeof(kc_variable *)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; i < k; i++) l->vars[l->n++] = kc_metric_variable(metric, i);
    return KC_OK;
}

/* The state variables of the loss trackers, the compiled metrics and the
 * add_metric means, in an order every replica shares. */
static kc_status collect_states(kc_object *model, state_list *l, kc_error *err)
{
    kc__compiled *c = kc__model_compiled(model);
    l->n = 0;
    if (!c) return KC_OK;
    kc_status rc = add_states(l, c->loss_tracker, err);
    for (int i = 0; rc == KC_OK && c->output_loss_trackers && i < c->n_outputs; i++)
        rc = add_states(l, c->output_loss_trackers[i], err);
    for (int i = 0; rc == KC_OK && i < c->n_outputs; i++)
        for (int k = 0; rc == KC_OK && k < c->n_metrics[i]; k++) rc = add_states(l, c->metrics[i][k].metric, err);
    for (int k = 0; rc == KC_OK && k < c->n_added; k++) rc = add_states(l, c->added_metrics[k], err);
    return rc;
}

static int64_t states_size(const state_list *l)
{
    int64_t n = 0;
    for (size_t i = 0; i < l->n; i++) n += kc_tensor_size(kc_variable_value(l->vars[i]));
    return n;
}

/* ---- steps ------------------------------------------------------------------------------------------ */

struct kc__replica_step {
    kc_strategy *s;
    kc_object *model;
    double share;                    /* local_rows / global_rows */
    kc__cross_replica cr;            /* what layers see during the step */
    const kc__cross_replica *prev_cr;
    kc__replica_step *prev;
    state_list saved_vars;           /* metric states at the start of the step... */
    float *saved;                    /* ...and their values, concatenated */
};

static _Thread_local kc__replica_step *current_step;

static kc_status cr_sum(void *ctx, float *buf, int64_t n, kc_error *err)
{
    kc_strategy *s = ctx;
    return s->ops->sum(s, buf, n, err);
}

static void step_free(kc__replica_step *st)
{
    kc__free(st->saved_vars.vars);
    kc__free(st->saved);
    kc__free(st);
}

kc__replica_step *kc__replica_step_begin(kc_strategy *s, kc_object *model, int64_t local_rows, int64_t global_rows,
                                         kc_error *err)
{
    kc__replica_step *st = kc__calloc(1, sizeof(*st));
    if (!st) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    st->s = s;
    st->model = model;
    st->share = (double)local_rows / (double)global_rows;
    st->cr = (kc__cross_replica){cr_sum, s, local_rows, global_rows};
    if (collect_states(model, &st->saved_vars, err) != KC_OK ||
        !(st->saved = kc__malloc_array((size_t)states_size(&st->saved_vars) + 1, sizeof(float)))) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        step_free(st);
        return NULL;
    }
    float *p = st->saved;
    for (size_t i = 0; i < st->saved_vars.n; i++) {
        kc_tensor *v = kc_variable_value(st->saved_vars.vars[i]);
        memcpy(p, kc_tensor_cdata(v), kc_tensor_nbytes(v));
        memset(kc_tensor_data(v), 0, kc_tensor_nbytes(v));
        p += kc_tensor_size(v);
    }
    st->prev_cr = kc__cross_replica_enter(&st->cr);
    st->prev = current_step;
    current_step = st;
    return st;
}

/* Put back the saved states, plus the summed increments in inc (NULL: none,
 * after a failure). Variables created during the step start from zero. */
static void restore_states(kc__replica_step *st, const state_list *now, const float *inc)
{
    const float *p = inc;
    for (size_t i = 0; i < now->n; i++) {
        kc_tensor *v = kc_variable_value(now->vars[i]);
        float *dst = kc_tensor_f32(v);
        int64_t n = kc_tensor_size(v);
        const float *old = NULL;
        const float *q = st->saved;
        for (size_t k = 0; k < st->saved_vars.n && !old; k++) {
            if (st->saved_vars.vars[k] == now->vars[i]) old = q;
            q += kc_tensor_size(kc_variable_value(st->saved_vars.vars[k]));
        }
        for (int64_t j = 0; j < n; j++) dst[j] = (old ? old[j] : 0.0f) + (p ? p[j] : 0.0f);
        if (p) p += n;
    }
}

kc_status kc__replica_step_end(kc__replica_step *st, kc_status rc, kc_logs *logs, kc_error *err)
{
    if (!st) return rc;
    kc__cross_replica_enter(st->prev_cr);
    current_step = st->prev;
    state_list now = {0};
    float *inc = NULL;
    if (rc == KC_OK) rc = collect_states(st->model, &now, err);
    int64_t total = rc == KC_OK ? states_size(&now) : 0;
    if (rc == KC_OK && !(inc = kc__malloc_array((size_t)total + 1, sizeof(float))))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) {
        float *p = inc;
        for (size_t i = 0; i < now.n; i++) {
            kc_tensor *v = kc_variable_value(now.vars[i]);
            memcpy(p, kc_tensor_cdata(v), kc_tensor_nbytes(v));
            p += kc_tensor_size(v);
        }
        rc = st->s->ops->sum(st->s, inc, total, err);
    }
    if (rc == KC_OK) {
        restore_states(st, &now, inc);
        if (logs) rc = kc_model_metric_results(st->model, logs, err);
    } else {
        /* a failed step adds nothing: the metrics are as before it */
        state_list before = st->saved_vars;
        restore_states(st, &before, NULL);
    }
    kc__free(inc);
    kc__free(now.vars);
    step_free(st);
    return rc;
}

/* ---- gradients --------------------------------------------------------------------------------------- */

typedef struct stream_listener {
    kc__grad_listener base;
    kc_strategy *s;
    kc__grad_stream *g;
} stream_listener;

static void tell(void *ctx, int source, const kc_tensor *grad)
{
    stream_listener *l = ctx;
    l->s->ops->grads_ready(l->g, source, grad);
}

kc_status kc__replica_gradients(kc_tape *tape, kc_tensor *loss, kc_tensor *const *src, kc_variable *const *vars,
                                int n, kc_tensor **grads, kc_error *err)
{
    kc__replica_step *st = current_step;
    if (!st) return kc_tape_gradient(tape, loss, src, n, grads, err);
    for (int i = 0; i < n; i++) grads[i] = NULL;
    kc_tensor *seed = kc_tensor_scalar((float)st->share, err);
    if (!seed) return kc__error_code(err, KC_ENOMEM);
    stream_listener l = {{tell, NULL}, st->s, st->s->ops->grads_begin(st->s, vars, n, err)};
    l.base.ctx = &l;
    kc_status rc = l.g ? KC_OK : kc__error_code(err, KC_ENOMEM);
    if (rc == KC_OK) {
        const kc__grad_listener *prev = kc__grad_listen(&l.base);
        rc = kc_tape_gradient_ex(tape, &loss, 1, &seed, src, n, grads, err);
        kc__grad_listen(prev);
        kc_status erc = st->s->ops->grads_end(l.g, rc == KC_OK, grads, err);
        if (rc == KC_OK) rc = erc;
    }
    kc_tensor_unref(seed);
    return rc;
}

kc_status kc_model_reduce_gradients(kc_object *model, kc_tensor **grads, kc_variable *const *vars, int n,
                                    kc_error *err)
{
    kc__replica_step *st = current_step;
    if (!st || st->model != model) return KC_OK;
    if (n < 0 || (n > 0 && (!grads || !vars)))
        return kc__errf(err, KC_EINVAL, "kc_model_reduce_gradients: bad gradient list (n = %d)", n);
    /* the caller differentiated its replica's batch-mean loss: weigh it by
     * the replica's share before the sum */
    kc__recording_pause();
    for (int i = 0; i < n; i++) {
        if (!grads[i] || st->share == 1.0) continue;
        kc_tensor *scaled = kc_mul_scalar(grads[i], (float)st->share, err);
        if (!scaled) {
            kc__recording_resume();
            return kc__error_code(err, KC_ENOMEM);
        }
        kc_tensor_unref(grads[i]);
        grads[i] = scaled;
    }
    kc__recording_resume();
    return st->s->ops->sum_gradients(st->s, grads, vars, n, err);
}
