/* Optimizers and learning-rate schedules: every update rule against its
 * formula computed here in double, weights (names, order, save/restore),
 * gradient clipping, constraints, configs (round trips, Keras-written
 * configs, errors), and training the linear fixture against TensorFlow.js
 * (tests/data/optimizers/linear_fit.json). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#define D(...) ((int64_t[]){__VA_ARGS__})
#define F(...) ((float[]){__VA_ARGS__})

static kc_error err;
static void setup(void) { kc_error_clear(&err); }

static kc_object *make_opt(const char *spec)
{
    kc_object *o = kc_object_create(KC_KIND_OPTIMIZER, spec, &err);
    ck_assert_msg(o != NULL, "%s: %s (%s)", spec, err.message, err.context);
    return o;
}

/* ---- the tiny problem: a kernel (2, 2) and a bias (3), 7 elements ----------------------- */

#define NW 7
static const double W0[NW] = {0.5, -0.3, 0.8, 0.1, 0.2, -0.4, 0.05};

typedef struct problem {
    kc_variable *v[2];
} problem;

static problem problem_new(void)
{
    problem p;
    kc_tensor *k = tu_tensor(2, D(2, 2), F(0.5f, -0.3f, 0.8f, 0.1f));
    kc_tensor *b = TU_T1(3, 0.2f, -0.4f, 0.05f);
    p.v[0] = kc_variable_new_take("dense/kernel:0", k, true, &err);
    p.v[1] = kc_variable_new_take("dense/bias:0", b, true, &err);
    CK_NN(p.v[0], err);
    CK_NN(p.v[1], err);
    return p;
}

static void problem_free(problem *p)
{
    kc_variable_unref(p->v[0]);
    kc_variable_unref(p->v[1]);
}

/* Gradient of element j at step t: varied signs and sizes. */
static double grad_at(int t, int j) { return sin(1.3 * j + 0.7 * t) * (0.5 + 0.1 * t); }

static void make_grads(int t, kc_tensor *g[2])
{
    float v[NW];
    for (int j = 0; j < NW; j++) v[j] = (float)grad_at(t, j);
    g[0] = tu_tensor(2, D(2, 2), v);
    g[1] = tu_tensor(1, D(3), v + 4);
}

static void step(kc_object *opt, problem *p, int t)
{
    kc_tensor *g[2];
    make_grads(t, g);
    CK_OK(kc_optimizer_apply_gradients(opt, g, p->v, 2, &err));
    kc_tensor_unref(g[0]);
    kc_tensor_unref(g[1]);
}

static double elem(const problem *p, int j)
{
    return j < 4 ? kc_tensor_get(kc_variable_value(p->v[0]), j)
                 : kc_tensor_get(kc_variable_value(p->v[1]), j - 4);
}

/* ---- reference update rules, in double ---------------------------------------------------- */

typedef struct hp {
    double lr, momentum, b1, b2, eps, rho, init_acc, wd, decay, sched_decay;
    bool nesterov, amsgrad, centered;
} hp;

typedef struct ref {
    double w[NW], s1[NW], s2[NW], s3[NW];
    double cache; /* Nadam's momentum cache */
} ref;

typedef void (*ref_fn)(ref *r, const hp *h, const double *g, int t, double lr);

/* SGD: v = momentum * v - lr * g; w += v (nesterov: w += momentum * v - lr * g) */
static void ref_sgd(ref *r, const hp *h, const double *g, int t, double lr)
{
    (void)t;
    for (int j = 0; j < NW; j++) {
        if (h->momentum == 0) {
            r->w[j] -= lr * g[j];
            continue;
        }
        r->s1[j] = h->momentum * r->s1[j] - lr * g[j];
        r->w[j] += h->nesterov ? h->momentum * r->s1[j] - lr * g[j] : r->s1[j];
    }
}

/* Adam (Keras): alpha = lr sqrt(1 - b2^t) / (1 - b1^t); w -= alpha m / (sqrt(v) + eps);
 * AdamW first w -= lr * wd * w. */
static void ref_adam(ref *r, const hp *h, const double *g, int t, double lr)
{
    double alpha = lr * sqrt(1 - pow(h->b2, t)) / (1 - pow(h->b1, t));
    for (int j = 0; j < NW; j++) {
        r->w[j] -= lr * h->wd * r->w[j];
        r->s1[j] = h->b1 * r->s1[j] + (1 - h->b1) * g[j];
        r->s2[j] = h->b2 * r->s2[j] + (1 - h->b2) * g[j] * g[j];
        r->s3[j] = fmax(r->s3[j], r->s2[j]);
        double v = h->amsgrad ? r->s3[j] : r->s2[j];
        r->w[j] -= alpha * r->s1[j] / (sqrt(v) + h->eps);
    }
}

/* Nadam as tf.keras 2.11-2.15 (keras/optimizers/nadam.py) and Keras 3
 * (keras/src/optimizers/nadam.py) compute it, in their order */
static void ref_nadam_keras(ref *r, const hp *h, const double *g, int t, double lr)
{
    double u_t = h->b1 * (1 - 0.5 * pow(0.96, t));
    double u_t1 = h->b1 * (1 - 0.5 * pow(0.96, t + 1));
    r->cache *= u_t; /* u_product */
    double u_product_next = r->cache * u_t1;
    for (int j = 0; j < NW; j++) {
        r->s1[j] += (g[j] - r->s1[j]) * (1 - h->b1);
        r->s2[j] += (g[j] * g[j] - r->s2[j]) * (1 - h->b2);
        double m_hat = u_t1 * r->s1[j] / (1 - u_product_next) + (1 - u_t) * g[j] / (1 - r->cache);
        double v_hat = r->s2[j] / (1 - pow(h->b2, t));
        r->w[j] -= m_hat * lr / (sqrt(v_hat) + h->eps);
    }
}

/* the legacy Nadam (tf.keras optimizer_v2, keras/optimizers/legacy/nadam.py:
 * Dozat's momentum schedule slowed down by schedule_decay) */
static void ref_nadam(ref *r, const hp *h, const double *g, int t, double lr)
{
    double u_t = h->b1 * (1 - 0.5 * pow(0.96, h->sched_decay * t));
    double u_t1 = h->b1 * (1 - 0.5 * pow(0.96, h->sched_decay * (t + 1)));
    r->cache *= u_t;
    double cache_next = r->cache * u_t1;
    for (int j = 0; j < NW; j++) {
        double g_prime = g[j] / (1 - r->cache);
        r->s1[j] = h->b1 * r->s1[j] + (1 - h->b1) * g[j];
        double m_prime = r->s1[j] / (1 - cache_next);
        r->s2[j] = h->b2 * r->s2[j] + (1 - h->b2) * g[j] * g[j];
        double v_prime = r->s2[j] / (1 - pow(h->b2, t));
        double m_bar = (1 - u_t) * g_prime + u_t1 * m_prime;
        r->w[j] -= lr * m_bar / (sqrt(v_prime) + h->eps);
    }
}

/* Adamax: u = max(b2 u, |g|); w -= lr / (1 - b1^t) * m / (u + eps) */
static void ref_adamax(ref *r, const hp *h, const double *g, int t, double lr)
{
    for (int j = 0; j < NW; j++) {
        r->s1[j] = h->b1 * r->s1[j] + (1 - h->b1) * g[j];
        r->s2[j] = fmax(h->b2 * r->s2[j], fabs(g[j]));
        r->w[j] -= lr / (1 - pow(h->b1, t)) * r->s1[j] / (r->s2[j] + h->eps);
    }
}

/* RMSprop: rms = rho rms + (1 - rho) g^2; inc = lr g / sqrt(rms [- mg^2] + eps);
 * mom = momentum mom + inc; w -= mom (or inc without momentum) */
static void ref_rmsprop(ref *r, const hp *h, const double *g, int t, double lr)
{
    (void)t;
    for (int j = 0; j < NW; j++) {
        r->s1[j] = h->rho * r->s1[j] + (1 - h->rho) * g[j] * g[j];
        r->s3[j] = h->rho * r->s3[j] + (1 - h->rho) * g[j];
        double denom = h->centered ? r->s1[j] - r->s3[j] * r->s3[j] : r->s1[j];
        double inc = lr * g[j] / sqrt(denom + h->eps);
        r->s2[j] = h->momentum * r->s2[j] + inc;
        r->w[j] -= h->momentum > 0 ? r->s2[j] : inc;
    }
}

/* Adagrad: acc (from init_acc) += g^2; w -= lr g / sqrt(acc + eps) */
static void ref_adagrad(ref *r, const hp *h, const double *g, int t, double lr)
{
    for (int j = 0; j < NW; j++) {
        if (t == 1) r->s1[j] = h->init_acc;
        r->s1[j] += g[j] * g[j];
        r->w[j] -= lr * g[j] / sqrt(r->s1[j] + h->eps);
    }
}

/* Adadelta: acc = rho acc + (1 - rho) g^2; d = sqrt(accd + eps) / sqrt(acc + eps) g;
 * w -= lr d; accd = rho accd + (1 - rho) d^2 */
static void ref_adadelta(ref *r, const hp *h, const double *g, int t, double lr)
{
    (void)t;
    for (int j = 0; j < NW; j++) {
        r->s1[j] = h->rho * r->s1[j] + (1 - h->rho) * g[j] * g[j];
        double d = sqrt(r->s2[j] + h->eps) / sqrt(r->s1[j] + h->eps) * g[j];
        r->w[j] -= lr * d;
        r->s2[j] = h->rho * r->s2[j] + (1 - h->rho) * d * d;
    }
}

/* Run `steps` updates of the optimizer `spec` and of the reference, comparing
 * weights after every step. The reference's learning rate includes Keras'
 * legacy decay: lr / (1 + decay * iterations). */
static void check_rule(const char *spec, const hp *h, ref_fn fn, int steps)
{
    kc_object *opt = make_opt(spec);
    problem p = problem_new();
    ref r = {.cache = 1.0};
    memcpy(r.w, W0, sizeof(W0));
    for (int j = 0; j < NW; j++) r.w[j] = (float)r.w[j];
    for (int t = 1; t <= steps; t++) {
        double g[NW];
        for (int j = 0; j < NW; j++) g[j] = (float)grad_at(t, j);
        double lr = h->lr / (1 + h->decay * (t - 1));
        ck_assert_msg(fabs(kc_optimizer_current_lr(opt) - lr) <= 1e-12 * lr, "%s: lr %g, want %g",
                      spec, kc_optimizer_current_lr(opt), lr);
        step(opt, &p, t);
        fn(&r, h, g, t, lr);
        ck_assert_int_eq(kc_optimizer_iterations(opt), t);
        for (int j = 0; j < NW; j++) {
            double got = elem(&p, j), want = r.w[j];
            ck_assert_msg(fabs(got - want) <= 1e-6 + 1e-5 * fabs(want),
                          "%s: step %d, element %d: got %.9g, want %.9g", spec, t, j, got, want);
        }
    }
    /* the rule moved the weights (a test that cannot fail proves nothing) */
    ck_assert_msg(fabs(elem(&p, 0) - W0[0]) > 1e-3, "%s: the weights did not move", spec);
    problem_free(&p);
    kc_object_unref(opt);
}

START_TEST(sgd_follows_keras_rule)
{
    check_rule("{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 0.1}}",
               &(hp){.lr = 0.1}, ref_sgd, 5);
    check_rule("{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 0.1, \"decay\": 0.5}}",
               &(hp){.lr = 0.1, .decay = 0.5}, ref_sgd, 5);
    check_rule("{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 0.05, \"momentum\": 0.9}}",
               &(hp){.lr = 0.05, .momentum = 0.9}, ref_sgd, 6);
    check_rule("{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 0.05, \"momentum\": 0.8, "
               "\"nesterov\": true}}",
               &(hp){.lr = 0.05, .momentum = 0.8, .nesterov = true}, ref_sgd, 6);
}
END_TEST

START_TEST(adam_family_follows_keras_rules)
{
    /* epsilon 0.1 makes Keras' epsilon placement visible */
    check_rule("{\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.05, \"epsilon\": 0.1}}",
               &(hp){.lr = 0.05, .b1 = 0.9, .b2 = 0.999, .eps = 0.1}, ref_adam, 6);
    check_rule("{\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.05, \"beta_1\": 0.5, "
               "\"beta_2\": 0.6, \"epsilon\": 0.01, \"amsgrad\": true}}",
               &(hp){.lr = 0.05, .b1 = 0.5, .b2 = 0.6, .eps = 0.01, .amsgrad = true}, ref_adam, 6);
    check_rule("{\"class_name\": \"AdamW\", \"config\": {\"learning_rate\": 0.05, \"weight_decay\": 0.5}}",
               &(hp){.lr = 0.05, .b1 = 0.9, .b2 = 0.999, .eps = 1e-7, .wd = 0.5}, ref_adam, 6);
    /* the default Nadam (a config without "decay"), and the legacy one */
    check_rule("{\"class_name\": \"Nadam\", \"config\": {\"learning_rate\": 0.05, \"epsilon\": 0.01}}",
               &(hp){.lr = 0.05, .b1 = 0.9, .b2 = 0.999, .eps = 0.01}, ref_nadam_keras, 6);
    check_rule("{\"class_name\": \"Nadam\", \"config\": {\"learning_rate\": 0.05, \"decay\": 0.004, "
               "\"epsilon\": 0.01}}",
               &(hp){.lr = 0.05, .b1 = 0.9, .b2 = 0.999, .eps = 0.01, .sched_decay = 0.004}, ref_nadam, 6);
    check_rule("{\"class_name\": \"Nadam\", \"config\": {\"learning_rate\": 0.05, \"beta_1\": 0.7, "
               "\"schedule_decay\": 0.5}}",
               &(hp){.lr = 0.05, .b1 = 0.7, .b2 = 0.999, .eps = 1e-7, .sched_decay = 0.5}, ref_nadam, 6);
    check_rule("{\"class_name\": \"Adamax\", \"config\": {\"learning_rate\": 0.05, \"beta_2\": 0.5, "
               "\"epsilon\": 0.1}}",
               &(hp){.lr = 0.05, .b1 = 0.9, .b2 = 0.5, .eps = 0.1}, ref_adamax, 6);
}
END_TEST

START_TEST(rmsprop_adagrad_adadelta_follow_keras_rules)
{
    check_rule("{\"class_name\": \"RMSprop\", \"config\": {\"learning_rate\": 0.01, \"epsilon\": 0.01}}",
               &(hp){.lr = 0.01, .rho = 0.9, .eps = 0.01}, ref_rmsprop, 6);
    check_rule("{\"class_name\": \"RMSprop\", \"config\": {\"learning_rate\": 0.01, \"rho\": 0.5, "
               "\"momentum\": 0.7, \"centered\": true}}",
               &(hp){.lr = 0.01, .rho = 0.5, .momentum = 0.7, .eps = 1e-7, .centered = true},
               ref_rmsprop, 6);
    check_rule("{\"class_name\": \"RMSprop\", \"config\": {\"learning_rate\": 0.01, \"momentum\": 0.5}}",
               &(hp){.lr = 0.01, .rho = 0.9, .momentum = 0.5, .eps = 1e-7}, ref_rmsprop, 6);
    check_rule("{\"class_name\": \"Adagrad\", \"config\": {\"learning_rate\": 0.1, "
               "\"initial_accumulator_value\": 0.5, \"epsilon\": 0.01}}",
               &(hp){.lr = 0.1, .init_acc = 0.5, .eps = 0.01}, ref_adagrad, 6);
    check_rule("{\"class_name\": \"Adadelta\", \"config\": {\"learning_rate\": 1.0, \"rho\": 0.8, "
               "\"epsilon\": 0.001}}",
               &(hp){.lr = 1.0, .rho = 0.8, .eps = 0.001}, ref_adadelta, 6);
}
END_TEST

/* Keras' `epsilon or backend_config.epsilon()`: 0 and null give 1e-7. */
START_TEST(zero_or_null_epsilon_is_keras_default)
{
    check_rule("{\"class_name\": \"Adagrad\", \"config\": {\"learning_rate\": 0.1, \"epsilon\": 0}}",
               &(hp){.lr = 0.1, .init_acc = 0.1, .eps = 1e-7}, ref_adagrad, 3);
    kc_object *o = make_opt("{\"class_name\": \"Adam\", \"config\": {\"epsilon\": null}}");
    json_t *c;
    CK_OK(kc_object_get_config(o, &c, &err));
    ck_assert_double_eq(json_real_value(json_object_get(c, "epsilon")), 1e-7);
    json_decref(c);
    kc_object_unref(o);
}
END_TEST

/* ---- weights: names, order, values, restore ------------------------------------------------ */

static void check_names(kc_object *opt, const char *const *want, int n)
{
    ck_assert_int_eq(kc_optimizer_num_weights(opt), n);
    char name[256];
    for (int i = 0; i < n; i++) {
        kc_tensor *t = kc_optimizer_weight(opt, i, name, sizeof(name));
        ck_assert_msg(t != NULL, "weight %d missing", i);
        ck_assert_str_eq(name, want[i]);
        ck_assert_int_eq(kc_tensor_dtype(t), i == 0 ? KC_INT64 : KC_FLOAT32);
    }
    ck_assert_ptr_null(kc_optimizer_weight(opt, n, name, sizeof(name)));
    ck_assert_str_eq(name, "");
}

static void names_after_build(const char *spec, const char *const *want, int n)
{
    kc_object *opt = make_opt(spec);
    problem p = problem_new();
    ck_assert_int_eq(kc_optimizer_num_weights(opt), 0); /* Keras creates weights lazily */
    CK_OK(kc_optimizer_build(opt, p.v, 2, &err));
    check_names(opt, want, n);
    problem_free(&p);
    kc_object_unref(opt);
}

START_TEST(weight_names_and_order_are_keras_legacy)
{
    names_after_build("sgd", (const char *[]){"SGD/iter:0"}, 1);
    names_after_build("{\"class_name\": \"SGD\", \"config\": {\"momentum\": 0.5}}",
                      (const char *[]){"SGD/iter:0", "SGD/dense/kernel/momentum:0",
                                       "SGD/dense/bias/momentum:0"}, 3);
    names_after_build("{\"class_name\": \"Adam\", \"config\": {\"amsgrad\": true}}",
                      (const char *[]){"Adam/iter:0", "Adam/dense/kernel/m:0", "Adam/dense/bias/m:0",
                                       "Adam/dense/kernel/v:0", "Adam/dense/bias/v:0",
                                       "Adam/dense/kernel/vhat:0", "Adam/dense/bias/vhat:0"}, 7);
    names_after_build("{\"class_name\": \"Adam\", \"config\": {\"name\": \"opt\"}}",
                      (const char *[]){"opt/iter:0", "opt/dense/kernel/m:0", "opt/dense/bias/m:0",
                                       "opt/dense/kernel/v:0", "opt/dense/bias/v:0"}, 5);
    names_after_build("nadam", (const char *[]){"Nadam/iter:0", "Nadam/momentum_cache:0",
                                                    "Nadam/dense/kernel/m:0", "Nadam/dense/bias/m:0",
                                                    "Nadam/dense/kernel/v:0", "Nadam/dense/bias/v:0"}, 6);
    names_after_build("{\"class_name\": \"RMSprop\", \"config\": {\"momentum\": 0.5, \"centered\": true}}",
                      (const char *[]){"RMSprop/iter:0", "RMSprop/dense/kernel/rms:0",
                                       "RMSprop/dense/bias/rms:0", "RMSprop/dense/kernel/momentum:0",
                                       "RMSprop/dense/bias/momentum:0", "RMSprop/dense/kernel/mg:0",
                                       "RMSprop/dense/bias/mg:0"}, 7);
    names_after_build("{\"class_name\": \"RMSprop\", \"config\": {\"centered\": true}}",
                      (const char *[]){"RMSprop/iter:0", "RMSprop/dense/kernel/rms:0",
                                       "RMSprop/dense/bias/rms:0", "RMSprop/dense/kernel/mg:0",
                                       "RMSprop/dense/bias/mg:0"}, 5);
    names_after_build("adagrad", (const char *[]){"Adagrad/iter:0", "Adagrad/dense/kernel/accumulator:0",
                                                      "Adagrad/dense/bias/accumulator:0"}, 3);
    names_after_build("adadelta", (const char *[]){"Adadelta/iter:0", "Adadelta/dense/kernel/accum_grad:0",
                                                       "Adadelta/dense/bias/accum_grad:0",
                                                       "Adadelta/dense/kernel/accum_var:0",
                                                       "Adadelta/dense/bias/accum_var:0"}, 5);
    names_after_build("adamax", (const char *[]){"Adamax/iter:0", "Adamax/dense/kernel/m:0",
                                                     "Adamax/dense/bias/m:0", "Adamax/dense/kernel/v:0",
                                                     "Adamax/dense/bias/v:0"}, 5);
    names_after_build("adamw", (const char *[]){"AdamW/iter:0", "AdamW/dense/kernel/m:0",
                                                    "AdamW/dense/bias/m:0", "AdamW/dense/kernel/v:0",
                                                    "AdamW/dense/bias/v:0"}, 5);
}
END_TEST

/* Slots are created per call, kind by kind for the call's new variables:
 * a variable first seen later comes after the earlier ones' slots, as
 * Keras' optimizer.weights lists them. */
START_TEST(weights_follow_creation_order_across_calls)
{
    kc_object *opt = make_opt("adam");
    problem p = problem_new();
    CK_OK(kc_optimizer_build(opt, NULL, 0, &err));
    check_names(opt, (const char *[]){"Adam/iter:0"}, 1);
    kc_tensor *g[2];
    make_grads(1, g);
    kc_variable *bias_only[1] = {p.v[1]};
    CK_OK(kc_optimizer_apply_gradients(opt, g + 1, bias_only, 1, &err));
    CK_OK(kc_optimizer_apply_gradients(opt, g, p.v, 2, &err));
    check_names(opt, (const char *[]){"Adam/iter:0", "Adam/dense/bias/m:0", "Adam/dense/bias/v:0",
                                      "Adam/dense/kernel/m:0", "Adam/dense/kernel/v:0"}, 5);
    ck_assert_int_eq(kc_optimizer_iterations(opt), 2);
    ck_assert_int_eq(kc_tensor_get(kc_optimizer_weight(opt, 0, NULL, 0), 0), 2);
    /* building again with known variables changes nothing */
    CK_OK(kc_optimizer_build(opt, p.v, 2, &err));
    ck_assert_int_eq(kc_optimizer_num_weights(opt), 5);
    kc_tensor_unref(g[0]);
    kc_tensor_unref(g[1]);
    problem_free(&p);
    kc_object_unref(opt);
}
END_TEST

START_TEST(slot_initial_values)
{
    kc_object *opt = make_opt("{\"class_name\": \"Adagrad\", \"config\": {\"initial_accumulator_value\": 0.25}}");
    problem p = problem_new();
    CK_OK(kc_optimizer_build(opt, p.v, 2, &err));
    tu_assert_close(kc_optimizer_weight(opt, 1, NULL, 0), 2, D(2, 2), F(0.25f, 0.25f, 0.25f, 0.25f),
                    0, 0, "accumulator");
    kc_object_unref(opt);
    opt = make_opt("nadam");
    CK_OK(kc_optimizer_build(opt, p.v, 2, &err));
    ck_assert_double_eq(kc_tensor_get(kc_optimizer_weight(opt, 1, NULL, 0), 0), 1.0);
    tu_assert_close(kc_optimizer_weight(opt, 2, NULL, 0), 2, D(2, 2), F(0, 0, 0, 0), 0, 0, "m");
    step(opt, &p, 1);
    double u1 = 0.9 * (1 - 0.5 * 0.96); /* the default Nadam's u_1 (the legacy one: 0.96^0.004) */
    ck_assert_msg(fabs(kc_tensor_get(kc_optimizer_weight(opt, 1, NULL, 0), 0) - u1) < 1e-7,
                  "momentum_cache after one step");
    problem_free(&p);
    kc_object_unref(opt);
}
END_TEST

static void copy_problem(const problem *from, problem *to)
{
    for (int i = 0; i < 2; i++) CK_OK(kc_variable_assign(to->v[i], kc_variable_value(from->v[i]), &err));
}

/* Restoring a saved state (build + set_weights) gives the same next step. */
static void check_restore(const char *spec)
{
    kc_object *a = make_opt(spec);
    problem pa = problem_new(), pb = problem_new();
    for (int t = 1; t <= 3; t++) step(a, &pa, t);
    json_t *cfg;
    CK_OK(kc_object_get_config(a, &cfg, &err));
    kc_object *b = kc_object_from_config(kc_object_class(a), cfg, NULL, &err);
    CK_NN(b, err);
    json_decref(cfg);
    copy_problem(&pa, &pb);
    CK_OK(kc_optimizer_build(b, pb.v, 2, &err));
    int n = kc_optimizer_num_weights(a);
    ck_assert_int_eq(kc_optimizer_num_weights(b), n);
    kc_tensor *ws[16];
    for (int i = 0; i < n; i++) ws[i] = kc_optimizer_weight(a, i, NULL, 0);
    CK_OK(kc_optimizer_set_weights(b, ws, n, &err));
    ck_assert_int_eq(kc_optimizer_iterations(b), 3);
    step(a, &pa, 4);
    step(b, &pb, 4);
    for (int i = 0; i < 2; i++)
        tu_assert_tensors_close(kc_variable_value(pb.v[i]), kc_variable_value(pa.v[i]), 0, 0, spec);
    for (int i = 0; i < n; i++)
        tu_assert_tensors_close(kc_optimizer_weight(b, i, NULL, 0), kc_optimizer_weight(a, i, NULL, 0),
                                0, 0, spec);
    problem_free(&pa);
    problem_free(&pb);
    kc_object_unref(a);
    kc_object_unref(b);
}

START_TEST(restored_state_gives_the_same_next_step)
{
    check_restore("{\"class_name\": \"SGD\", \"config\": {\"momentum\": 0.9, \"nesterov\": true}}");
    check_restore("{\"class_name\": \"Adam\", \"config\": {\"amsgrad\": true, \"learning_rate\": 0.1}}");
    check_restore("{\"class_name\": \"AdamW\", \"config\": {\"learning_rate\": 0.1}}");
    check_restore("{\"class_name\": \"Nadam\", \"config\": {\"learning_rate\": 0.1}}");
    check_restore("{\"class_name\": \"Adamax\", \"config\": {\"learning_rate\": 0.1}}");
    check_restore("{\"class_name\": \"RMSprop\", \"config\": {\"momentum\": 0.3, \"centered\": true}}");
    check_restore("{\"class_name\": \"Adagrad\", \"config\": {\"learning_rate\": 0.1}}");
    check_restore("{\"class_name\": \"Adadelta\", \"config\": {\"learning_rate\": 1.0}}");
    check_restore("{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": {\"class_name\": "
                  "\"ExponentialDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
                  "\"decay_steps\": 2, \"decay_rate\": 0.5}}, \"decay\": 0.1}}");
}
END_TEST

START_TEST(set_weights_checks_counts_and_shapes)
{
    kc_object *opt = make_opt("adam");
    problem p = problem_new();
    kc_tensor *it = kc_tensor_zeros(KC_INT64, 0, NULL, &err);
    ck_assert_int_eq(kc_optimizer_set_weights(opt, &it, 1, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "kc_optimizer_build");
    setup();
    CK_OK(kc_optimizer_build(opt, p.v, 2, &err));
    kc_tensor *ws[5];
    for (int i = 0; i < 5; i++) ws[i] = kc_optimizer_weight(opt, i, NULL, 0);
    kc_tensor *wrong = kc_tensor_zeros(KC_FLOAT32, 1, D(4), &err);
    kc_tensor *bad[5] = {ws[0], ws[1], ws[2], wrong, ws[4]};
    ck_assert_int_eq(kc_optimizer_set_weights(opt, bad, 5, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "Adam/dense/kernel/v:0");
    setup();
    ck_assert_int_eq(kc_optimizer_set_weights(opt, ws, 4, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "has 5 weights");
    setup();
    kc_tensor *with_null[5] = {ws[0], ws[1], NULL, ws[3], ws[4]};
    ck_assert_int_eq(kc_optimizer_set_weights(opt, with_null, 5, &err), KC_EINVAL);
    /* a float iteration count (as some writers store it) converts */
    kc_tensor *fit = kc_tensor_scalar(7.0f, &err);
    kc_tensor *conv[5] = {fit, ws[1], ws[2], ws[3], ws[4]};
    setup();
    CK_OK(kc_optimizer_set_weights(opt, conv, 5, &err));
    ck_assert_int_eq(kc_optimizer_iterations(opt), 7);
    kc_tensor_unref(fit);
    kc_tensor_unref(wrong);
    kc_tensor_unref(it);
    problem_free(&p);
    kc_object_unref(opt);
}
END_TEST

/* optimizer_v2's set_weights overrides: RMSprop, Adagrad and Adadelta take
 * Keras 1 lists without the iteration count (which becomes 0); Adam drops
 * the vhat slots Keras 1 saved without amsgrad. */
START_TEST(set_weights_accepts_keras1_lists)
{
    problem p = problem_new();
    kc_object *opt = make_opt("rmsprop");
    CK_OK(kc_optimizer_build(opt, p.v, 2, &err));
    step(opt, &p, 1);
    kc_tensor *k = kc_tensor_full(KC_FLOAT32, 2, D(2, 2), 0.5, &err);
    kc_tensor *b = kc_tensor_full(KC_FLOAT32, 1, D(3), 0.25, &err);
    kc_tensor *two[2] = {k, b};
    CK_OK(kc_optimizer_set_weights(opt, two, 2, &err));
    ck_assert_int_eq(kc_optimizer_iterations(opt), 0);
    tu_assert_close(kc_optimizer_weight(opt, 2, NULL, 0), 1, D(3), F(0.25f, 0.25f, 0.25f), 0, 0, "rms");
    kc_object_unref(opt);

    opt = make_opt("adam");
    CK_OK(kc_optimizer_build(opt, p.v, 2, &err));
    kc_tensor *it = kc_tensor_full(KC_INT64, 0, NULL, 5, &err);
    kc_tensor *seven[7] = {it, k, b, k, b, k, b};
    CK_OK(kc_optimizer_set_weights(opt, seven, 7, &err));
    ck_assert_int_eq(kc_optimizer_iterations(opt), 5);
    kc_object_unref(opt);

    setup();
    opt = make_opt("sgd"); /* no such compatibility for SGD */
    CK_OK(kc_optimizer_build(opt, p.v, 2, &err));
    ck_assert_int_eq(kc_optimizer_set_weights(opt, NULL, 0, &err), KC_ESHAPE);
    kc_object_unref(opt);
    kc_tensor_unref(it);
    kc_tensor_unref(k);
    kc_tensor_unref(b);
    problem_free(&p);
}
END_TEST

/* ---- apply_gradients: NULL gradients, errors, clipping, constraints ------------------------- */

START_TEST(null_gradients_are_skipped)
{
    kc_object *opt = make_opt("{\"class_name\": \"SGD\", \"config\": {\"momentum\": 0.5, \"learning_rate\": 1}}");
    problem p = problem_new();
    kc_tensor *g[2];
    make_grads(1, g);
    kc_tensor *only_kernel[2] = {g[0], NULL};
    CK_OK(kc_optimizer_apply_gradients(opt, only_kernel, p.v, 2, &err));
    tu_assert_close(kc_variable_value(p.v[1]), 1, D(3), F(0.2f, -0.4f, 0.05f), 0, 0, "untouched bias");
    ck_assert_double_ne(elem(&p, 0), 0.5);
    check_names(opt, (const char *[]){"SGD/iter:0", "SGD/dense/kernel/momentum:0"}, 2);
    /* all NULL: Keras' "No gradients provided for any variable" */
    kc_tensor *none[2] = {NULL, NULL};
    ck_assert_int_eq(kc_optimizer_apply_gradients(opt, none, p.v, 2, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "no gradients provided for any variable: ['dense/kernel:0', 'dense/bias:0']");
    ck_assert_int_eq(kc_optimizer_iterations(opt), 1);
    /* an empty list is a no-op */
    setup();
    CK_OK(kc_optimizer_apply_gradients(opt, NULL, NULL, 0, &err));
    ck_assert_int_eq(kc_optimizer_iterations(opt), 1);
    kc_tensor_unref(g[0]);
    kc_tensor_unref(g[1]);
    problem_free(&p);
    kc_object_unref(opt);
}
END_TEST

START_TEST(apply_gradients_errors_name_the_variable)
{
    kc_object *opt = make_opt("adam");
    problem p = problem_new();
    kc_tensor *g[2] = {kc_tensor_zeros(KC_FLOAT32, 2, D(2, 2), &err),
                       kc_tensor_zeros(KC_FLOAT32, 1, D(4), &err)};
    ck_assert_int_eq(kc_optimizer_apply_gradients(opt, g, p.v, 2, &err), KC_ESHAPE);
    CK_ERR(err, KC_ESHAPE, "dense/bias:0");
    ck_assert_int_eq(kc_optimizer_iterations(opt), 0);
    ck_assert_int_eq(kc_optimizer_num_weights(opt), 0);
    setup();
    kc_tensor *ig = kc_tensor_zeros(KC_INT32, 2, D(2, 2), &err);
    kc_tensor *g2[1] = {ig};
    ck_assert_int_eq(kc_optimizer_apply_gradients(opt, g2, p.v, 1, &err), KC_ETYPE);
    setup();
    kc_variable *vars[2] = {p.v[0], NULL};
    ck_assert_int_eq(kc_optimizer_apply_gradients(opt, g, vars, 2, &err), KC_EINVAL);
    setup();
    kc_object *sched = kc_object_create(KC_KIND_SCHEDULE,
                                        "{\"class_name\": \"ExponentialDecay\", \"config\": "
                                        "{\"initial_learning_rate\": 1, \"decay_steps\": 1, \"decay_rate\": 0.5}}",
                                        &err);
    CK_NN(sched, err);
    ck_assert_int_eq(kc_optimizer_apply_gradients(sched, g, p.v, 2, &err), KC_ETYPE);
    CK_ERR(err, KC_ETYPE, "not an optimizer");
    ck_assert(isnan(kc_optimizer_current_lr(sched)));
    ck_assert_int_eq(kc_optimizer_num_weights(sched), 0);
    setup();
    ck_assert_int_eq(kc_optimizer_build(NULL, NULL, 0, &err), KC_EINVAL);
    kc_object_unref(sched);
    kc_tensor_unref(ig);
    kc_tensor_unref(g[0]);
    kc_tensor_unref(g[1]);
    problem_free(&p);
    kc_object_unref(opt);
}
END_TEST

/* One SGD step with learning rate 1: the weights move by minus the clipped gradient. */
static void check_clip(const char *clip_keys, const float *gk, const float *gb, const float *want_k,
                       const float *want_b)
{
    char spec[256];
    snprintf(spec, sizeof(spec), "{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 1.0, %s}}",
             clip_keys);
    kc_object *opt = make_opt(spec);
    kc_variable *v[2] = {kc_variable_new_take("k:0", kc_tensor_zeros(KC_FLOAT32, 2, D(2, 2), &err), true, &err),
                         kc_variable_new_take("b:0", kc_tensor_zeros(KC_FLOAT32, 1, D(3), &err), true, &err)};
    kc_tensor *g[2] = {tu_tensor(2, D(2, 2), gk), tu_tensor(1, D(3), gb)};
    CK_OK(kc_optimizer_apply_gradients(opt, g, v, 2, &err));
    float nk[4], nb[3];
    for (int i = 0; i < 4; i++) nk[i] = -want_k[i];
    for (int i = 0; i < 3; i++) nb[i] = -want_b[i];
    tu_assert_close(kc_variable_value(v[0]), 2, D(2, 2), nk, 1e-6, 1e-7, spec);
    tu_assert_close(kc_variable_value(v[1]), 1, D(3), nb, 1e-6, 1e-7, spec);
    /* the caller's gradients are left alone */
    tu_assert_close(g[0], 2, D(2, 2), gk, 0, 0, "gradient");
    for (int i = 0; i < 2; i++) {
        kc_tensor_unref(g[i]);
        kc_variable_unref(v[i]);
    }
    kc_object_unref(opt);
}

START_TEST(gradient_clipping_as_tf_keras)
{
    /* clipvalue: elementwise into [-c, c] */
    check_clip("\"clipvalue\": 0.5", F(2, -3, 0.1f, 0.4f), F(-0.6f, 0.5f, 0), F(0.5f, -0.5f, 0.1f, 0.4f),
               F(-0.5f, 0.5f, 0));
    /* clipnorm: each gradient to norm <= c (the kernel has norm 5, the bias 0.5) */
    check_clip("\"clipnorm\": 1.0", F(3, 4, 0, 0), F(0.3f, 0.4f, 0), F(0.6f, 0.8f, 0, 0),
               F(0.3f, 0.4f, 0));
    /* global_clipnorm: all gradients scaled by c / (joint norm 5) */
    check_clip("\"global_clipnorm\": 1.0", F(3, 0, 0, 0), F(0, 4, 0), F(0.6f, 0, 0, 0), F(0, 0.8f, 0));
    /* ... and left alone below it */
    check_clip("\"global_clipnorm\": 10.0", F(3, 0, 0, 0), F(0, 4, 0), F(3, 0, 0, 0), F(0, 4, 0));
    /* clipvalue first, then clipnorm: (3, 4) -> (2, 2) -> (2, 2) / sqrt(8) */
    check_clip("\"clipvalue\": 2.0, \"clipnorm\": 1.0", F(3, 4, 0, 0), F(0, 0, 0),
               F(0.70710678f, 0.70710678f, 0, 0), F(0, 0, 0));
    /* clipvalue, then global_clipnorm over the value-clipped gradients: norm 5 */
    check_clip("\"clipvalue\": 4.0, \"global_clipnorm\": 2.5", F(3, 0, 0, 0), F(0, 9, 0),
               F(1.5f, 0, 0, 0), F(0, 2, 0));
    kc_object *o = kc_object_create(KC_KIND_OPTIMIZER,
                                    "{\"class_name\": \"SGD\", \"config\": {\"clipnorm\": 1, "
                                    "\"global_clipnorm\": 1}}",
                                    &err);
    ck_assert_ptr_null(o);
    CK_ERR(err, KC_EFORMAT, "both clipnorm and global_clipnorm");
}
END_TEST

START_TEST(constraints_are_applied_after_the_update)
{
    kc_object *opt = make_opt("{\"class_name\": \"SGD\", \"config\": {\"learning_rate\": 1.0}}");
    problem p = problem_new();
    kc_object *nonneg = kc_object_create(KC_KIND_CONSTRAINT, "non_neg", &err);
    CK_NN(nonneg, err);
    kc_variable_set_constraint(p.v[0], nonneg);
    kc_tensor *g[2] = {tu_tensor(2, D(2, 2), F(1, -1, 0.5f, 0.5f)), TU_T1(3, 1, 1, 1)};
    /* a tape recording around the step must not see the constraint's ops */
    kc_tape *tape = kc_tape_begin(KC_TAPE_PERSISTENT, &err);
    CK_NN(tape, err);
    CK_OK(kc_optimizer_apply_gradients(opt, g, p.v, 2, &err));
    ck_assert_int_eq(kc_tape_size(tape), 0);
    kc_tape_free(tape);
    tu_assert_close(kc_variable_value(p.v[0]), 2, D(2, 2), F(0, 0.7f, 0.3f, 0), 1e-6, 1e-7, "NonNeg kernel");
    tu_assert_close(kc_variable_value(p.v[1]), 1, D(3), F(-0.8f, -1.4f, -0.95f), 1e-6, 1e-7,
                    "unconstrained bias");
    kc_object_unref(nonneg);
    kc_tensor_unref(g[0]);
    kc_tensor_unref(g[1]);
    problem_free(&p);
    kc_object_unref(opt);
}
END_TEST

/* A constraint that fails when told to (a user constraint running out of
 * memory, say). */
static bool constraint_refuses;
static kc_tensor *refusing_constraint(kc_tensor *w, void *params, kc_error *e)
{
    (void)params;
    if (constraint_refuses) {
        kc_error_set(e, KC_EINVAL, "constraint refused");
        return NULL;
    }
    return kc_tensor_copy(w, e);
}

/* Every weight of the optimizer and the variables' values, flattened. */
static int snapshot(kc_object *opt, kc_variable *const *v, int n, float *out)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        for (int64_t j = 0; j < kc_tensor_size(kc_variable_value(v[i])); j++)
            out[k++] = (float)kc_tensor_get(kc_variable_value(v[i]), j);
    for (int i = 0; i < kc_optimizer_num_weights(opt); i++) {
        kc_tensor *w = kc_optimizer_weight(opt, i, NULL, 0);
        for (int64_t j = 0; j < kc_tensor_size(w); j++) out[k++] = (float)kc_tensor_get(w, j);
    }
    return k;
}

/* apply_gradients is all or nothing: when the constraint of the last
 * variable fails, the variables before it (one unconstrained, one with
 * NonNeg), the slots, Nadam's momentum_cache and the iteration count are
 * as they were (they used to keep the half-applied step); the next step
 * then gives what an optimizer that never saw the failed one gives. */
START_TEST(failed_constraint_leaves_everything_unchanged)
{
    const char *spec = "{\"class_name\": \"Nadam\", \"config\": {\"learning_rate\": 0.1}}";
    kc_object *opt = make_opt(spec), *twin = make_opt(spec);
    kc_variable *v[3], *tv[3];
    for (int r = 0; r < 2; r++) {
        kc_variable **dst = r ? tv : v;
        dst[0] = kc_variable_new_take("a:0", TU_T1(3, 0.5f, -0.2f, 0.1f), true, &err);
        dst[1] = kc_variable_new_take("b:0", TU_T1(2, 0.05f, 0.3f), true, &err);
        dst[2] = kc_variable_new_take("c:0", TU_T1(2, 1, 2), true, &err);
        for (int i = 0; i < 3; i++) CK_NN(dst[i], err);
    }
    kc_object *nonneg = kc_object_create(KC_KIND_CONSTRAINT, "non_neg", &err);
    kc_object *refuse = kc_function_new(KC_KIND_CONSTRAINT, "refuse", KC_FN(refusing_constraint), NULL,
                                        NULL, &err);
    CK_NN(nonneg, err);
    CK_NN(refuse, err);
    kc_variable_set_constraint(v[1], nonneg);
    kc_variable_set_constraint(tv[1], nonneg);
    kc_variable_set_constraint(v[2], refuse);
    kc_variable_set_constraint(tv[2], refuse);
    kc_tensor *g1[3] = {TU_T1(3, 1, -1, 2), TU_T1(2, 0.5f, -0.5f), TU_T1(2, 1, 1)};
    kc_tensor *g2[3] = {TU_T1(3, -2, 1, 0.5f), TU_T1(2, 1, 0.25f), TU_T1(2, -1, 3)};
    constraint_refuses = false;
    CK_OK(kc_optimizer_apply_gradients(opt, g1, v, 3, &err));
    CK_OK(kc_optimizer_apply_gradients(twin, g1, tv, 3, &err));
    float before[64], after[64];
    int n = snapshot(opt, v, 3, before);
    constraint_refuses = true;
    ck_assert_int_eq(kc_optimizer_apply_gradients(opt, g2, v, 3, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "constraint refused");
    CK_ERR(err, KC_EINVAL, "c:0");
    kc_error_clear(&err);
    ck_assert_int_eq(snapshot(opt, v, 3, after), n);
    for (int i = 0; i < n; i++) ck_assert_msg(before[i] == after[i], "value %d: %g became %g", i, before[i], after[i]);
    ck_assert_int_eq(kc_optimizer_iterations(opt), 1);
    constraint_refuses = false;
    CK_OK(kc_optimizer_apply_gradients(opt, g2, v, 3, &err));
    CK_OK(kc_optimizer_apply_gradients(twin, g2, tv, 3, &err));
    float want[64];
    snapshot(twin, tv, 3, want);
    snapshot(opt, v, 3, after);
    for (int i = 0; i < n; i++) ck_assert_msg(want[i] == after[i], "value %d: %g, want %g", i, after[i], want[i]);
    for (int i = 0; i < 3; i++) {
        kc_tensor_unref(g1[i]);
        kc_tensor_unref(g2[i]);
        kc_variable_unref(v[i]);
        kc_variable_unref(tv[i]);
    }
    kc_object_unref(nonneg);
    kc_object_unref(refuse);
    kc_object_unref(opt);
    kc_object_unref(twin);
}
END_TEST

/* ---- learning rate: schedules, decay, set_learning_rate ------------------------------------ */

static kc_object *make_schedule(const char *spec)
{
    kc_object *s = kc_object_create(KC_KIND_SCHEDULE, spec, &err);
    ck_assert_msg(s != NULL, "%s: %s (%s)", spec, err.message, err.context);
    return s;
}

static void check_values(const char *spec, const int64_t *steps, const double *want, int n)
{
    kc_object *s = make_schedule(spec);
    for (int i = 0; i < n; i++) {
        double got = kc_schedule_value(s, steps[i]);
        ck_assert_msg(fabs(got - want[i]) <= 1e-12 + 1e-12 * fabs(want[i]),
                      "%s at step %lld: got %.17g, want %.17g", spec, (long long)steps[i], got, want[i]);
    }
    kc_object_unref(s);
}

#define STEPS(...) ((int64_t[]){__VA_ARGS__})
#define VALS(...) ((double[]){__VA_ARGS__})
#define SCHED(cls, cfg) "{\"class_name\": \"" cls "\", \"config\": {" cfg "}}"

START_TEST(schedules_give_keras_values)
{
    const double pi = 3.14159265358979323846;
    /* lr0 * rate^(step / steps), floored exponent with staircase */
    check_values(SCHED("ExponentialDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 10, \"decay_rate\": 0.5"),
                 STEPS(0, 5, 25), VALS(0.1, 0.1 * pow(0.5, 0.5), 0.1 * pow(0.5, 2.5)), 3);
    check_values(SCHED("ExponentialDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 10, "
                       "\"decay_rate\": 0.5, \"staircase\": true"),
                 STEPS(9, 10, 25), VALS(0.1, 0.05, 0.025), 3);
    /* lr0 / (1 + rate * step / steps) */
    check_values(SCHED("InverseTimeDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 4, \"decay_rate\": 0.5"),
                 STEPS(0, 6), VALS(0.1, 0.1 / (1 + 0.5 * 1.5)), 2);
    check_values(SCHED("InverseTimeDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 4, "
                       "\"decay_rate\": 0.5, \"staircase\": true"),
                 STEPS(6, 8), VALS(0.1 / 1.5, 0.1 / 2.0), 2);
    /* values[0] while step <= b0, values[1] while b0 < step <= b1, ... */
    check_values(SCHED("PiecewiseConstantDecay", "\"boundaries\": [10, 20], \"values\": [1.0, 0.5, 0.1]"),
                 STEPS(0, 10, 11, 20, 21, 1000), VALS(1.0, 1.0, 0.5, 0.5, 0.1, 0.1), 6);
    /* (lr0 - end) * (1 - min(step, steps) / steps)^power + end */
    check_values(SCHED("PolynomialDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 10, "
                       "\"end_learning_rate\": 0.01, \"power\": 2.0"),
                 STEPS(0, 5, 15), VALS(0.1, 0.09 * 0.25 + 0.01, 0.01), 3);
    /* cycle: steps * ceil(step / steps) (1 at step 0) */
    check_values(SCHED("PolynomialDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 10, "
                       "\"end_learning_rate\": 0.01, \"power\": 2.0, \"cycle\": true"),
                 STEPS(0, 10, 15), VALS(0.1, 0.01, 0.09 * 0.25 * 0.25 + 0.01), 3);
    check_values(SCHED("PolynomialDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 10"),
                 STEPS(4), VALS((0.1 - 0.0001) * 0.6 + 0.0001), 1);
    /* lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, steps) / steps)) + alpha) */
    check_values(SCHED("CosineDecay", "\"initial_learning_rate\": 0.2, \"decay_steps\": 10, \"alpha\": 0.1"),
                 STEPS(0, 4, 20), VALS(0.2, 0.2 * (0.9 * 0.5 * (1 + cos(pi * 0.4)) + 0.1), 0.02), 3);
    /* warmup: linear from lr0 to the target over warmup_steps, then the decay from the target */
    check_values(SCHED("CosineDecay", "\"initial_learning_rate\": 0.0, \"decay_steps\": 10, "
                       "\"warmup_target\": 0.2, \"warmup_steps\": 5"),
                 STEPS(0, 2, 5, 9, 100), VALS(0.0, 0.08, 0.2, 0.2 * 0.5 * (1 + cos(pi * 0.4)), 0.0), 5);
    /* SGDR: t_mul 2: periods 10, 20, 40; the second starts at m_mul */
    check_values(SCHED("CosineDecayRestarts", "\"initial_learning_rate\": 0.1, \"first_decay_steps\": 10, "
                       "\"m_mul\": 0.5"),
                 STEPS(0, 5, 15, 30), VALS(0.1, 0.05, 0.1 * 0.5 * 0.5 * (1 + cos(pi * 0.25)), 0.025), 4);
    check_values(SCHED("CosineDecayRestarts", "\"initial_learning_rate\": 0.1, \"first_decay_steps\": 10, "
                       "\"t_mul\": 1.0, \"alpha\": 0.2"),
                 STEPS(15), VALS(0.1 * (0.8 * 0.5 + 0.2)), 1);
}
END_TEST

START_TEST(schedule_value_of_other_objects_is_nan)
{
    kc_object *opt = make_opt("adam");
    ck_assert(isnan(kc_schedule_value(opt, 0)));
    ck_assert(isnan(kc_schedule_value(NULL, 0)));
    kc_object_unref(opt);
}
END_TEST

/* The schedule is called with the iteration count before each update,
 * then divided by (1 + decay * iterations) (optimizer_v2._decayed_lr). */
START_TEST(optimizer_follows_its_schedule)
{
    kc_object *opt = make_opt("{\"class_name\": \"SGD\", \"config\": {\"decay\": 0.25, \"learning_rate\": "
                              SCHED("PiecewiseConstantDecay", "\"boundaries\": [1], \"values\": [1.0, 0.5]") "}}");
    kc_variable *v[1] = {kc_variable_new_take("w:0", kc_tensor_zeros(KC_FLOAT32, 1, D(1), &err), true, &err)};
    kc_tensor *g[1] = {TU_T1(1, 1.0f)};
    double w = 0;
    for (int it = 0; it < 4; it++) {
        double lr = (it <= 1 ? 1.0 : 0.5) / (1 + 0.25 * it);
        ck_assert_double_eq_tol(kc_optimizer_current_lr(opt), lr, 1e-15);
        CK_OK(kc_optimizer_apply_gradients(opt, g, v, 1, &err));
        w -= lr;
        ck_assert_double_eq_tol(kc_tensor_get(kc_variable_value(v[0]), 0), w, 1e-6);
    }
    ck_assert_int_eq(kc_optimizer_set_learning_rate(opt, 0.1, &err), KC_ESTATE);
    CK_ERR(err, KC_ESTATE, "PiecewiseConstantDecay");
    kc_object_unref(opt);

    setup();
    opt = make_opt("sgd");
    ck_assert_double_eq(kc_optimizer_current_lr(opt), 0.01);
    setup();
    CK_OK(kc_optimizer_set_learning_rate(opt, 0.5, &err));
    ck_assert_double_eq(kc_optimizer_current_lr(opt), 0.5);
    ck_assert_int_eq(kc_optimizer_set_learning_rate(opt, -1, &err), KC_EINVAL);
    ck_assert_double_eq(kc_optimizer_current_lr(opt), 0.5);
    kc_object_unref(opt);
    kc_tensor_unref(g[0]);
    kc_variable_unref(v[0]);
}
END_TEST

/* ---- configs --------------------------------------------------------------------------------- */

static void check_round_trip(kc_object *a, const char *what)
{
    json_t *c1, *c2, *ser;
    CK_OK(kc_object_get_config(a, &c1, &err));
    kc_object *b = kc_object_from_config(kc_object_class(a), c1, NULL, &err);
    ck_assert_msg(b != NULL, "%s: %s (%s)", what, err.message, err.context);
    CK_OK(kc_object_get_config(b, &c2, &err));
    char *t1 = kc_json_dump(c1, &err), *t2 = kc_json_dump(c2, &err);
    ck_assert_msg(json_equal(c1, c2), "%s: config %s became %s", what, t1, t2);
    CK_OK(kc_serialize(b, &ser, &err));
    kc_object *c;
    CK_OK(kc_deserialize(kc_object_kind(a), ser, NULL, &c, &err));
    ck_assert_ptr_eq(kc_object_class(c), kc_object_class(a));
    kc_json_free(t1);
    kc_json_free(t2);
    json_decref(c1);
    json_decref(c2);
    json_decref(ser);
    kc_object_unref(b);
    kc_object_unref(c);
}

START_TEST(every_builtin_class_round_trips)
{
    int n_opt = 0, n_sched = 0;
    for (size_t i = 0; i < kc_registry_size(); i++) {
        kc_kind kind;
        const char *name;
        const kc_class *cls;
        ck_assert(kc_registry_entry(i, &kind, &name, &cls, NULL));
        if (!cls || (kind != KC_KIND_OPTIMIZER && kind != KC_KIND_SCHEDULE)) continue;
        if (strchr(name, '>')) continue; /* a test's own class */
        kc_object *a = kc_object_new(cls, &err);
        CK_NN(a, err);
        if (kind == KC_KIND_OPTIMIZER) {
            ck_assert_str_eq(((kc_optimizer *)a)->name, name);
            n_opt++;
        } else {
            ck_assert(isfinite(kc_schedule_value(a, 3)));
            n_sched++;
        }
        check_round_trip(a, name);
        kc_object_unref(a);
    }
    ck_assert_int_eq(n_opt, 8);
    ck_assert_int_eq(n_sched, 6);
    /* and non-default configs */
    static const char *const specs[] = {
        "{\"class_name\": \"SGD\", \"config\": {\"name\": \"s\", \"clipnorm\": 2, \"clipvalue\": 3, "
        "\"learning_rate\": 0.5, \"decay\": 0.1, \"momentum\": 0.9, \"nesterov\": true}}",
        "{\"class_name\": \"Adam\", \"config\": {\"global_clipnorm\": 1, \"amsgrad\": true, \"beta_1\": 0.5}}",
        "{\"class_name\": \"AdamW\", \"config\": {\"weight_decay\": 0.1, \"amsgrad\": true}}",
        "{\"class_name\": \"Nadam\", \"config\": {\"schedule_decay\": 0.1}}",
        "{\"class_name\": \"RMSprop\", \"config\": {\"rho\": 0.5, \"momentum\": 0.5, \"centered\": true}}",
        "{\"class_name\": \"Adagrad\", \"config\": {\"initial_accumulator_value\": 0.0}}",
        "{\"class_name\": \"Adadelta\", \"config\": {\"rho\": 0.5, \"epsilon\": 1e-3}}",
        "{\"class_name\": \"Adamax\", \"config\": {\"learning_rate\": " SCHED("CosineDecay",
        "\"initial_learning_rate\": 0.1, \"decay_steps\": 100, \"warmup_target\": 1.0, \"warmup_steps\": 10, \"name\": \"c\"") "}}",
    };
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        kc_object *o = make_opt(specs[i]);
        check_round_trip(o, specs[i]);
        kc_object_unref(o);
    }
}
END_TEST

/* Configs as Keras writes them come back as the same text. */
START_TEST(keras_written_configs_round_trip)
{
    static const char *const cfgs[] = {
        "{\"class_name\": \"Adam\", \"config\": {\"name\": \"Adam\", \"learning_rate\": 0.0010000000474974513, "
        "\"decay\": 0.0, \"beta_1\": 0.8999999761581421, \"beta_2\": 0.9990000128746033, \"epsilon\": 1e-07, "
        "\"amsgrad\": false}}",
        "{\"class_name\": \"SGD\", \"config\": {\"name\": \"SGD\", \"clipnorm\": 1.0, \"learning_rate\": 0.01, "
        "\"decay\": 0.0, \"momentum\": 0.9, \"nesterov\": true}}",
        "{\"class_name\": \"RMSprop\", \"config\": {\"name\": \"RMSprop\", \"learning_rate\": {\"class_name\": "
        "\"ExponentialDecay\", \"config\": {\"initial_learning_rate\": 0.1, \"decay_steps\": 1000, "
        "\"decay_rate\": 0.96, \"staircase\": false, \"name\": null}}, \"decay\": 0.0, \"rho\": 0.9, "
        "\"momentum\": 0.0, \"epsilon\": 1e-07, \"centered\": false}}",
        "{\"class_name\": \"Nadam\", \"config\": {\"name\": \"Nadam\", \"learning_rate\": 0.002, \"decay\": 0.004, "
        "\"beta_1\": 0.9, \"beta_2\": 0.999, \"epsilon\": 1e-07}}",
        "{\"class_name\": \"Adagrad\", \"config\": {\"name\": \"Adagrad\", \"clipvalue\": 0.5, \"learning_rate\": 0.01, "
        "\"decay\": 0.0, \"initial_accumulator_value\": 0.1, \"epsilon\": 1e-07}}",
        "{\"class_name\": \"Adadelta\", \"config\": {\"name\": \"Adadelta\", \"learning_rate\": 1.0, \"decay\": 0.0, "
        "\"rho\": 0.95, \"epsilon\": 1e-07}}",
        "{\"class_name\": \"Adamax\", \"config\": {\"name\": \"Adamax\", \"learning_rate\": {\"class_name\": "
        "\"PiecewiseConstantDecay\", \"config\": {\"boundaries\": [100, 200], \"values\": [0.1, 0.01, 0.001], "
        "\"name\": \"steps\"}}, \"decay\": 0.0, \"beta_1\": 0.9, \"beta_2\": 0.999, \"epsilon\": 1e-07}}",
        "{\"class_name\": \"SGD\", \"config\": {\"name\": \"SGD\", \"learning_rate\": {\"class_name\": "
        "\"PolynomialDecay\", \"config\": {\"initial_learning_rate\": 0.1, \"decay_steps\": 50, "
        "\"end_learning_rate\": 0.0001, \"power\": 1.0, \"cycle\": true, \"name\": null}}, \"decay\": 0.0, "
        "\"momentum\": 0.0, \"nesterov\": false}}",
        "{\"class_name\": \"SGD\", \"config\": {\"name\": \"SGD\", \"learning_rate\": {\"class_name\": "
        "\"CosineDecay\", \"config\": {\"initial_learning_rate\": 0.1, \"decay_steps\": 50, \"alpha\": 0.0, "
        "\"name\": null, \"warmup_target\": null, \"warmup_steps\": 0}}, \"decay\": 0.0, "
        "\"momentum\": 0.0, \"nesterov\": false}}",
        "{\"class_name\": \"SGD\", \"config\": {\"name\": \"SGD\", \"learning_rate\": {\"class_name\": "
        "\"CosineDecayRestarts\", \"config\": {\"initial_learning_rate\": 0.1, \"first_decay_steps\": 50, "
        "\"t_mul\": 2.0, \"m_mul\": 1.0, \"alpha\": 0.0, \"name\": null}}, \"decay\": 0.0, "
        "\"momentum\": 0.0, \"nesterov\": false}}",
        "{\"class_name\": \"SGD\", \"config\": {\"name\": \"SGD\", \"learning_rate\": {\"class_name\": "
        "\"InverseTimeDecay\", \"config\": {\"initial_learning_rate\": 0.1, \"decay_steps\": 1.5, "
        "\"decay_rate\": 0.5, \"staircase\": true, \"name\": \"it\"}}, \"decay\": 0.0, "
        "\"momentum\": 0.0, \"nesterov\": false}}",
    };
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        json_t *in = kc_json_parse(cfgs[i], strlen(cfgs[i]), 0, &err);
        CK_NN(in, err);
        kc_object *o;
        CK_OK(kc_deserialize(KC_KIND_OPTIMIZER, in, NULL, &o, &err));
        json_t *out;
        CK_OK(kc_serialize(o, &out, &err));
        char *t = kc_json_dump(out, &err);
        ck_assert_str_eq(t, cfgs[i]);
        kc_json_free(t);
        json_decref(in);
        json_decref(out);
        kc_object_unref(o);
    }
}
END_TEST

static kc_object *deserialize(const char *text)
{
    json_t *j = kc_json_parse(text, strlen(text), 0, &err);
    CK_NN(j, err);
    kc_object *o = NULL;
    kc_status rc = kc_deserialize(KC_KIND_OPTIMIZER, j, NULL, &o, &err);
    json_decref(j);
    ck_assert_msg(rc == KC_OK, "%s: %s (%s)", text, err.message, err.context);
    return o;
}

static double cfg_number(kc_object *o, const char *key)
{
    json_t *c;
    CK_OK(kc_object_get_config(o, &c, &err));
    double v = json_number_value(json_object_get(c, key));
    json_decref(c);
    return v;
}

/* Two steps of Nadam on one weight w = 1 with gradients 0.5 then -0.25, lr 0.001 and
 * Keras' other defaults, by hand:
 *   default (tf.keras 2.11+, Keras 3): u_1 = 0.9 (1 - 0.5 * 0.96) = 0.468,
 *     u_2 = 0.9 (1 - 0.5 * 0.9216) = 0.48528, m = 0.05, v = 0.00025,
 *     m_hat = 0.48528 * 0.05 / (1 - 0.468 * 0.48528) + 0.532 * 0.5 / 0.532 = 0.5313940,
 *     v_hat = 0.25, w = 1 - 0.001 * 0.5313940 / (0.5 + 1e-7) = 0.99893721; step 2: 0.99932981.
 *   legacy (schedule_decay 0.004): u_1 = 0.9 (1 - 0.5 * 0.96^0.004) = 0.45007347, ...
 *     w = 0.99894355, then 0.99935466. */
static double nadam_two_steps(const char *spec, bool *has_decay, double *decay)
{
    kc_object *opt = make_opt(spec);
    kc_variable *v = kc_variable_new_take("w:0", TU_T1(1, 1.0f), true, &err);
    CK_NN(v, err);
    const float gs[2] = {0.5f, -0.25f};
    for (int t = 0; t < 2; t++) {
        kc_tensor *g = TU_T1(1, gs[t]);
        CK_OK(kc_optimizer_apply_gradients(opt, &g, &v, 1, &err));
        kc_tensor_unref(g);
    }
    double w = kc_tensor_get(kc_variable_value(v), 0);
    json_t *c;
    CK_OK(kc_object_get_config(opt, &c, &err));
    *has_decay = json_object_get(c, "decay") != NULL;
    *decay = json_number_value(json_object_get(c, "decay"));
    json_decref(c);
    kc_variable_unref(v);
    kc_object_unref(opt);
    return w;
}

START_TEST(nadam_default_and_legacy_rules)
{
    static const struct {
        const char *spec;
        bool legacy;
    } cases[] = {
        {"nadam", false},
        {"{\"class_name\": \"Nadam\", \"config\": {\"learning_rate\": 0.001}}", false},
        /* tf.keras 2.15 */
        {"{\"class_name\": \"Nadam\", \"config\": {\"name\": \"Nadam\", \"weight_decay\": null, \"clipnorm\": null, "
         "\"global_clipnorm\": null, \"clipvalue\": null, \"use_ema\": false, \"ema_momentum\": 0.99, "
         "\"ema_overwrite_frequency\": null, \"jit_compile\": true, \"is_legacy_optimizer\": false, "
         "\"learning_rate\": 0.0010000000474974513, \"beta_1\": 0.9, \"beta_2\": 0.999, \"epsilon\": 1e-07}}", false},
        /* Keras 3 */
        {"{\"module\": \"keras.optimizers\", \"class_name\": \"Nadam\", \"config\": {\"name\": \"nadam\", "
         "\"learning_rate\": 0.0010000000474974513, \"weight_decay\": null, \"clipnorm\": null, \"global_clipnorm\": null, "
         "\"clipvalue\": null, \"use_ema\": false, \"ema_momentum\": 0.99, \"ema_overwrite_frequency\": null, "
         "\"loss_scale_factor\": null, \"gradient_accumulation_steps\": null, \"beta_1\": 0.9, \"beta_2\": 0.999, "
         "\"epsilon\": 1e-07}, \"registered_name\": null}", false},
        /* Keras 2.0-2.10 and tf.keras.optimizers.legacy.Nadam */
        {"{\"class_name\": \"Nadam\", \"config\": {\"name\": \"Nadam\", \"learning_rate\": 0.001, \"decay\": 0.004, "
         "\"beta_1\": 0.9, \"beta_2\": 0.999, \"epsilon\": 1e-07}}", true},
        {"{\"class_name\": \"Nadam\", \"config\": {\"lr\": 0.001, \"schedule_decay\": 0.004}}", true},
        {"{\"class_name\": \"Nadam\", \"config\": {\"is_legacy_optimizer\": true}}", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bool has_decay;
        double decay;
        double w = nadam_two_steps(cases[i].spec, &has_decay, &decay);
        double want = cases[i].legacy ? 0.99935466 : 0.99932981;
        ck_assert_msg(fabs(w - want) <= 2e-7, "%s: w = %.9g, want %.9g", cases[i].spec, w, want);
        /* the config says which rule it is: a round trip keeps it */
        ck_assert_msg(has_decay == cases[i].legacy, "%s: decay in get_config: %d", cases[i].spec, has_decay);
        if (has_decay) ck_assert_double_eq_tol(decay, 0.004, 1e-12);
    }
    /* a round trip through get_config keeps the rule */
    for (int legacy = 0; legacy < 2; legacy++) {
        kc_object *o = make_opt(cases[legacy ? 4 : 0].spec);
        json_t *c;
        CK_OK(kc_object_get_config(o, &c, &err));
        json_t *spec = json_pack("{s:s, s:o}", "class_name", "Nadam", "config", c);
        char *text = json_dumps(spec, 0);
        bool has_decay;
        double decay, w = nadam_two_steps(text, &has_decay, &decay);
        ck_assert_msg(fabs(w - (legacy ? 0.99935466 : 0.99932981)) <= 2e-7, "%s: w = %.9g", text, w);
        free(text);
        json_decref(spec);
        kc_object_unref(o);
    }
}
END_TEST

/* Names as Keras, TensorFlow.js, tf.keras 2.11+ and Keras 3 write them. */
START_TEST(other_writers_configs_load)
{
    static const char *const names[][2] = {
        {"adam", "Adam"},         {"ADAM", "Adam"},         {"sgd", "SGD"},
        {"rmsprop", "RMSprop"},   {"RMSProp", "RMSprop"},   {"Rmsprop", "RMSprop"},
        {"adagrad", "Adagrad"},   {"adadelta", "Adadelta"}, {"adamax", "Adamax"},
        {"nadam", "Nadam"},       {"adamw", "AdamW"},       {"Custom>Adam", "Adam"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        kc_object *o = kc_optimizer_get(names[i][0], &err);
        ck_assert_msg(o != NULL, "%s: %s", names[i][0], err.message);
        ck_assert_str_eq(kc_object_name(o), names[i][1]);
        ck_assert_str_eq(((kc_optimizer *)o)->name, names[i][1]);
        kc_object_unref(o);
    }
    ck_assert_ptr_null(kc_optimizer_get("adamm", &err));
    CK_ERR(err, KC_ENOTFOUND, "adamm");
    setup();
    ck_assert_ptr_null(kc_optimizer_get(NULL, &err));

    /* Keras 2 lower-cases class names; Keras 1/2 wrote "lr" */
    kc_object *o = deserialize("{\"class_name\": \"rmsprop\", \"config\": {\"lr\": 0.005, \"rho\": 0.8}}");
    ck_assert_str_eq(kc_object_name(o), "RMSprop");
    ck_assert_double_eq(kc_optimizer_current_lr(o), 0.005);
    ck_assert_double_eq(cfg_number(o, "rho"), 0.8);
    kc_object_unref(o);
    /* tf.keras 2.11+ new optimizers: "Custom>Adam" with their own keys */
    o = deserialize("{\"class_name\": \"Custom>Adam\", \"config\": {\"name\": \"Adam\", \"weight_decay\": null, "
                    "\"clipnorm\": null, \"global_clipnorm\": null, \"clipvalue\": null, \"use_ema\": false, "
                    "\"ema_momentum\": 0.99, \"ema_overwrite_frequency\": null, \"jit_compile\": true, "
                    "\"is_legacy_optimizer\": false, \"learning_rate\": 0.0020000000949949026, \"beta_1\": 0.8, "
                    "\"beta_2\": 0.999, \"epsilon\": 1e-07, \"amsgrad\": true}}");
    ck_assert_str_eq(kc_object_name(o), "Adam");
    ck_assert_double_eq(kc_optimizer_current_lr(o), 0.0020000000949949026);
    ck_assert_double_eq(cfg_number(o, "beta_1"), 0.8);
    ck_assert(!((kc_optimizer *)o)->has_clipnorm);
    kc_object_unref(o);
    o = deserialize("{\"class_name\": \"Custom>AdamW\", \"config\": {\"name\": \"AdamW\", \"weight_decay\": 0.01, "
                    "\"learning_rate\": 0.001, \"use_ema\": false, \"jit_compile\": false}}");
    ck_assert_double_eq(cfg_number(o, "weight_decay"), 0.01);
    kc_object_unref(o);
    /* Keras 3 */
    o = deserialize("{\"module\": \"keras.optimizers\", \"class_name\": \"SGD\", \"config\": {\"name\": \"SGD\", "
                    "\"learning_rate\": 0.01, \"weight_decay\": null, \"clipnorm\": null, \"global_clipnorm\": null, "
                    "\"clipvalue\": 0.5, \"use_ema\": false, \"ema_momentum\": 0.99, \"ema_overwrite_frequency\": null, "
                    "\"loss_scale_factor\": null, \"gradient_accumulation_steps\": null, \"momentum\": 0.5, "
                    "\"nesterov\": false}, \"registered_name\": null}");
    ck_assert(((kc_optimizer *)o)->has_clipvalue);
    ck_assert_double_eq(((kc_optimizer *)o)->clipvalue, 0.5);
    kc_object_unref(o);
    /* Keras 2.2 Nadam: schedule_decay */
    o = deserialize("{\"class_name\": \"Nadam\", \"config\": {\"lr\": 0.002, \"beta_1\": 0.9, \"beta_2\": 0.999, "
                    "\"epsilon\": 1e-08, \"schedule_decay\": 0.01}}");
    ck_assert_double_eq(cfg_number(o, "decay"), 0.01);
    ck_assert_double_eq(((kc_optimizer *)o)->decay, 0); /* never decays the learning rate */
    kc_object_unref(o);
    /* a string names a class with its defaults */
    kc_object *a = kc_object_create(KC_KIND_OPTIMIZER, "adamax", &err);
    CK_NN(a, err);
    ck_assert_double_eq(kc_optimizer_current_lr(a), 0.001);
    kc_object_unref(a);
}
END_TEST

static void check_bad(kc_kind kind, const char *spec, kc_status code, const char *needle)
{
    kc_error e = {0};
    kc_object *o = kc_object_create(kind, spec, &e);
    ck_assert_msg(o == NULL, "accepted %s", spec);
    CK_ERR(e, code, needle);
}

#define OPT(cfg) "{\"class_name\": \"SGD\", \"config\": {" cfg "}}"

START_TEST(bad_configs_are_errors)
{
    check_bad(KC_KIND_OPTIMIZER, OPT("\"learning_rate\": -0.1"), KC_EFORMAT, "optimizer.config.learning_rate");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"lr\": -1"), KC_EFORMAT, "lr");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"learning_rate\": \"fast\""), KC_EFORMAT, "learning_rate");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"momentum\": 1.5"), KC_EFORMAT, "`momentum` must be between [0, 1]");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"momentum\": -0.1"), KC_EFORMAT, "momentum");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"nesterov\": 1"), KC_EFORMAT, "nesterov");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"decay\": -0.5"), KC_EFORMAT, "decay");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"clipnorm\": -1"), KC_EFORMAT, "clipnorm");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"clipvalue\": \"a\""), KC_EFORMAT, "clipvalue");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"name\": 3"), KC_EFORMAT, "name");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"name\": \"\""), KC_EFORMAT, "name");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"weight_decay\": 0.1"), KC_EUNSUPPORTED, "weight_decay");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"jit_compile\": \"yes\""), KC_EFORMAT, "jit_compile");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"gradient_accumulation_steps\": 4"), KC_EUNSUPPORTED,
              "gradient_accumulation_steps");
    check_bad(KC_KIND_OPTIMIZER, OPT("\"learning_rate\": {\"class_name\": \"NoSuchDecay\", \"config\": {}}"),
              KC_ENOTFOUND, "NoSuchDecay");
    check_bad(KC_KIND_OPTIMIZER, "{\"class_name\": \"Adamm\", \"config\": {}}", KC_ENOTFOUND,
              "Unknown optimizer class 'Adamm'");
    check_bad(KC_KIND_OPTIMIZER, "{\"class_name\": \"Adam\", \"config\": {\"amsgrad\": \"yes\"}}", KC_EFORMAT,
              "amsgrad");
    check_bad(KC_KIND_OPTIMIZER, "{\"class_name\": \"Adam\", \"config\": {\"beta_1\": 1.0}}", KC_EFORMAT,
              "beta_1");
    check_bad(KC_KIND_OPTIMIZER, "{\"class_name\": \"Adam\", \"config\": {\"epsilon\": -1}}", KC_EFORMAT,
              "epsilon");
    check_bad(KC_KIND_OPTIMIZER, "{\"class_name\": \"AdamW\", \"config\": {\"weight_decay\": null}}", KC_EFORMAT,
              "weight_decay");
    check_bad(KC_KIND_OPTIMIZER, "{\"class_name\": \"RMSprop\", \"config\": {\"rho\": 2}}", KC_EFORMAT, "rho");
    check_bad(KC_KIND_OPTIMIZER, "{\"class_name\": \"Adagrad\", \"config\": {\"initial_accumulator_value\": -1}}",
              KC_EFORMAT, "initial_accumulator_value");
    check_bad(KC_KIND_OPTIMIZER,
              "{\"class_name\": \"Nadam\", \"config\": {\"learning_rate\": " SCHED("ExponentialDecay",
              "\"initial_learning_rate\": 0.1, \"decay_steps\": 10, \"decay_rate\": 0.5") "}}",
              KC_EFORMAT, "does not support learning-rate schedules");
    check_bad(KC_KIND_SCHEDULE, SCHED("ExponentialDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 10"),
              KC_EFORMAT, "decay_rate");
    check_bad(KC_KIND_SCHEDULE, SCHED("ExponentialDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 0, "
              "\"decay_rate\": 0.5"), KC_EFORMAT, "decay_steps");
    check_bad(KC_KIND_SCHEDULE, SCHED("PiecewiseConstantDecay", "\"boundaries\": [1, 2], \"values\": [1.0, 0.5]"),
              KC_EFORMAT, "the length of boundaries should be 1 less than the length of values");
    check_bad(KC_KIND_SCHEDULE, SCHED("PiecewiseConstantDecay", "\"boundaries\": [2, 1], \"values\": [1, 2, 3]"),
              KC_EFORMAT, "strictly increasing");
    check_bad(KC_KIND_SCHEDULE, SCHED("PiecewiseConstantDecay", "\"boundaries\": [1], \"values\": [1, \"x\"]"),
              KC_EFORMAT, "values[1]");
    check_bad(KC_KIND_SCHEDULE, SCHED("PiecewiseConstantDecay", "\"boundaries\": 1, \"values\": [1, 2]"),
              KC_EFORMAT, "boundaries");
    check_bad(KC_KIND_SCHEDULE, SCHED("CosineDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 10, "
              "\"warmup_steps\": -1"), KC_EFORMAT, "warmup_steps");
    check_bad(KC_KIND_SCHEDULE, SCHED("CosineDecayRestarts", "\"initial_learning_rate\": 0.1, "
              "\"first_decay_steps\": 10, \"t_mul\": 0"), KC_EFORMAT, "t_mul");
    check_bad(KC_KIND_SCHEDULE, SCHED("PolynomialDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 10, "
              "\"cycle\": 1"), KC_EFORMAT, "cycle");
    check_bad(KC_KIND_SCHEDULE, SCHED("InverseTimeDecay", "\"initial_learning_rate\": 0.1, \"decay_steps\": 10, "
              "\"decay_rate\": 1, \"name\": 5"), KC_EFORMAT, "name");
}
END_TEST

/* A custom optimizer class through the public contract: one slot with a
 * custom initial value, a state weight, begin_step and update. */
typedef struct counting_opt {
    kc_optimizer base;
    float *steps_seen; /* state weight */
    double last_lr;
} counting_opt;

static int co_n_slots(const kc_object *self) { (void)self; return 1; }
static const char *co_slot_name(const kc_object *self, int k) { (void)self; (void)k; return "acc"; }
static double co_slot_init(const kc_object *self, int k) { (void)self; (void)k; return 2.0; }
static kc_status co_begin(kc_object *self, int64_t t, double lr, kc_error *e)
{
    (void)e;
    counting_opt *c = (counting_opt *)self;
    *c->steps_seen = (float)t;
    c->last_lr = lr;
    return KC_OK;
}
static void co_update(kc_object *self, float *w, const float *g, float *const *slots, int64_t n,
                      double lr, int64_t t)
{
    (void)self;
    (void)t;
    for (int64_t i = 0; i < n; i++) {
        slots[0][i] += g[i];
        w[i] -= (float)lr * slots[0][i];
    }
}
static kc_status co_init(kc_object *self, kc_error *e)
{
    counting_opt *c = (counting_opt *)self;
    c->steps_seen = kc_optimizer_add_state(self, "steps_seen", 0.0, e);
    return c->steps_seen ? KC_OK : KC_ENOMEM;
}
static const kc_optimizer_methods co_methods = {co_n_slots, co_slot_name, co_slot_init, co_begin, co_update};
static const kc_class co_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_OPTIMIZER, .name = "Test>Counting",
                                  .size = sizeof(counting_opt), .config_version = 1, .init = co_init,
                                  .methods = &co_methods};

START_TEST(custom_optimizer_classes_use_the_base)
{
    CK_OK(kc_register_class(&co_class, &err));
    kc_object *o = kc_optimizer_get("test>counting", &err);
    CK_NN(o, err);
    problem p = problem_new();
    step(o, &p, 1);
    step(o, &p, 2);
    check_names(o, (const char *[]){"Counting/iter:0", "Counting/steps_seen:0", "Counting/dense/kernel/acc:0",
                                    "Counting/dense/bias/acc:0"}, 4);
    ck_assert_double_eq(kc_tensor_get(kc_optimizer_weight(o, 1, NULL, 0), 0), 2.0);
    ck_assert_double_eq(((counting_opt *)o)->last_lr, 0.001);
    /* acc = 2 + g1 + g2; w = w0 - lr * (2 + g1) - lr * (2 + g1 + g2) */
    double g1 = (float)grad_at(1, 0), g2 = (float)grad_at(2, 0);
    ck_assert_double_eq_tol(elem(&p, 0), 0.5 - 0.001 * (2 + g1) - 0.001 * (2 + g1 + g2), 1e-6);
    ck_assert_ptr_null(kc_optimizer_add_state(o, "late", 0, &err));
    CK_ERR(err, KC_ESTATE, "before the optimizer is built");
    problem_free(&p);
    kc_object_unref(o);
    static const kc_optimizer_methods half = {.n_slots = co_n_slots, .update = co_update};
    static const kc_class bad = {.abi = KC_CLASS_ABI, .kind = KC_KIND_OPTIMIZER, .name = "Test>Bad",
                                 .size = sizeof(counting_opt), .config_version = 1, .methods = &half};
    setup();
    ck_assert_int_eq(kc_register_class(&bad, &err), KC_EINVAL);
    CK_ERR(err, KC_EINVAL, "slot_name");
}
END_TEST

/* ---- training the linear fixture against TensorFlow.js -------------------------------------- */

static kc_tensor *json_tensor(const json_t *j)
{
    const json_t *shape = json_object_get(j, "shape"), *data = json_object_get(j, "data");
    int64_t dims[KC_MAX_DIMS];
    int nd = (int)json_array_size(shape);
    for (int i = 0; i < nd; i++) dims[i] = json_integer_value(json_array_get(shape, i));
    size_t n = json_array_size(data);
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = (float)json_number_value(json_array_get(data, i));
    kc_tensor *t = tu_tensor(nd, dims, v);
    free(v);
    return t;
}

/* Rows [r0, r0 + n) of a (N, k) tensor. */
static kc_tensor *rows(kc_tensor *t, int64_t r0, int64_t n)
{
    int64_t k = kc_tensor_dim(t, 1);
    kc_tensor *out = kc_tensor_from_data(KC_FLOAT32, 2, D(n, k), kc_tensor_f32(t) + r0 * k, &err);
    CK_NN(out, err);
    return out;
}

/* Keras' fit on Dense(3) with mse: batches in order (the last one short),
 * one apply_gradients per batch. Returns the epoch losses as Keras 2
 * averages them: sum of batch size * batch loss, times fl(1 / N). */
static void fit_linear(kc_object *opt, kc_variable *const *wb, kc_tensor *x, kc_tensor *y,
                       int epochs, int batch, double *history)
{
    int64_t n = kc_tensor_dim(x, 0);
    for (int e = 0; e < epochs; e++) {
        float total = 0;
        for (int64_t r = 0; r < n; r += batch) {
            int64_t nb = r + batch <= n ? batch : n - r;
            kc_tensor *xb = rows(x, r, nb), *yb = rows(y, r, nb);
            kc_tape *tape = kc_tape_begin(0, &err);
            kc_scope *s = kc_scope_new(&err);
            kc_tensor *pred = kc_scope_take(s, kc_add(kc_scope_take(s, kc_matmul(xb, kc_variable_value(wb[0]),
                                                                            false, false, &err)),
                                                      kc_variable_value(wb[1]), &err));
            kc_tensor *sq = kc_scope_take(s, kc_square(kc_scope_take(s, kc_sub(pred, yb, &err)), &err));
            kc_tensor *loss = kc_scope_take(s, kc_reduce_mean(sq, NULL, 0, false, &err));
            kc_tape_end(tape);
            CK_NN(loss, err);
            total += (float)nb * kc_tensor_item(loss);
            kc_tensor *src[2] = {kc_variable_value(wb[0]), kc_variable_value(wb[1])}, *g[2];
            CK_OK(kc_tape_gradient(tape, loss, src, 2, g, &err));
            CK_OK(kc_optimizer_apply_gradients(opt, g, wb, 2, &err));
            kc_tensor_unref(g[0]);
            kc_tensor_unref(g[1]);
            kc_scope_free(s);
            kc_tape_free(tape);
            kc_tensor_unref(xb);
            kc_tensor_unref(yb);
        }
        history[e] = total * (1.0f / (float)n);
    }
}

START_TEST(training_matches_tensorflow_js)
{
    json_error_t jerr;
    json_t *root = json_load_file(tu_data("optimizers/linear_fit.json"), 0, &jerr);
    ck_assert_msg(root != NULL, "linear_fit.json: %s", jerr.text);
    kc_tensor *x = json_tensor(json_object_get(root, "x")), *y = json_tensor(json_object_get(root, "y"));
    const json_t *initial = json_object_get(root, "initial"), *cases = json_object_get(root, "cases");
    ck_assert_int_eq(json_array_size(cases), 8);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        const json_t *cs = json_array_get(cases, c);
        const char *name = json_string_value(json_object_get(cs, "name"));
        kc_object *opt;
        CK_OK(kc_deserialize(KC_KIND_OPTIMIZER, json_object_get(cs, "optimizer"), NULL, &opt, &err));
        kc_variable *wb[2];
        for (int i = 0; i < 2; i++) {
            const json_t *w = json_array_get(initial, (size_t)i);
            wb[i] = kc_variable_new_take(json_string_value(json_object_get(w, "name")), json_tensor(w), true, &err);
            CK_NN(wb[i], err);
        }
        int epochs = (int)json_integer_value(json_object_get(cs, "epochs"));
        double history[8];
        ck_assert_int_le(epochs, 8);
        fit_linear(opt, wb, x, y, epochs, (int)json_integer_value(json_object_get(cs, "batch_size")), history);
        const json_t *want_loss = json_object_get(json_object_get(cs, "history"), "loss");
        for (int e = 0; e < epochs; e++) {
            double want = json_number_value(json_array_get(want_loss, (size_t)e));
            ck_assert_msg(fabs(history[e] - want) <= 1e-6 + 1e-5 * fabs(want),
                          "%s: epoch %d loss %.9g, TensorFlow.js %.9g", name, e + 1, history[e], want);
        }
        const json_t *want_w = json_object_get(cs, "weights");
        for (int i = 0; i < 2; i++) {
            kc_tensor *want = json_tensor(json_array_get(want_w, (size_t)i));
            char what[128];
            snprintf(what, sizeof(what), "%s: %s", name, kc_variable_name(wb[i]));
            tu_assert_tensors_close(kc_variable_value(wb[i]), want, 1e-5, 1e-6, what);
            kc_tensor_unref(want);
            kc_variable_unref(wb[i]);
        }
        ck_assert_int_eq(kc_optimizer_iterations(opt), 9);
        kc_object_unref(opt);
    }
    kc_tensor_unref(x);
    kc_tensor_unref(y);
    json_decref(root);
}
END_TEST

/* ---- allocation failures ------------------------------------------------------------------------ */

/* Build, step with clipping and a schedule, save and restore the state. */
static kc_status alloc_scenario(kc_error *e)
{
    kc_status rc = KC_ENOMEM;
    kc_object *a = NULL, *b = NULL;
    kc_variable *v[2] = {NULL, NULL};
    kc_tensor *g[2] = {NULL, NULL};
    json_t *cfg = NULL;
    a = kc_object_create(KC_KIND_OPTIMIZER,
                         "{\"class_name\": \"Nadam\", \"config\": {\"clipnorm\": 0.5, \"name\": \"n\"}}", e);
    b = kc_object_create(KC_KIND_OPTIMIZER,
                         "{\"class_name\": \"Adam\", \"config\": {\"amsgrad\": true, \"global_clipnorm\": 1, "
                         "\"learning_rate\": {\"class_name\": \"PiecewiseConstantDecay\", \"config\": "
                         "{\"boundaries\": [1], \"values\": [0.1, 0.01]}}}}", e);
    if (!a || !b) goto out;
    v[0] = kc_variable_new_take("k:0", kc_tensor_full(KC_FLOAT32, 2, D(2, 2), 0.5, e), true, e);
    v[1] = kc_variable_new_take("b:0", kc_tensor_full(KC_FLOAT32, 1, D(3), -0.5, e), true, e);
    g[0] = kc_tensor_full(KC_FLOAT32, 2, D(2, 2), 0.25, e);
    g[1] = kc_tensor_full(KC_FLOAT32, 1, D(3), 1.5, e);
    if (!v[0] || !v[1] || !g[0] || !g[1]) goto out;
    if (kc_optimizer_build(b, v, 2, e) != KC_OK) goto out;
    for (int t = 0; t < 2; t++)
        if (kc_optimizer_apply_gradients(a, g, v, 2, e) != KC_OK ||
            kc_optimizer_apply_gradients(b, g, v, 2, e) != KC_OK)
            goto out;
    kc_tensor *ws[8];
    int n = kc_optimizer_num_weights(b);
    for (int i = 0; i < n; i++) ws[i] = kc_optimizer_weight(b, i, NULL, 0);
    if (kc_optimizer_set_weights(b, ws, n, e) != KC_OK) goto out;
    if (kc_object_get_config(b, &cfg, e) != KC_OK) goto out;
    rc = KC_OK;
out:
    if (e->code != KC_OK) rc = e->code;
    json_decref(cfg);
    for (int i = 0; i < 2; i++) {
        kc_tensor_unref(g[i]);
        kc_variable_unref(v[i]);
    }
    kc_object_unref(a);
    kc_object_unref(b);
    return rc;
}

START_TEST(allocation_failures_are_enomem_without_leaks)
{
    int failures = tu_alloc_failure_sweep(alloc_scenario, 10000);
    ck_assert_msg(failures > 30, "only %d allocation points were exercised", failures);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("optimizers");
    TCase *tc = tcase_create("optimizers");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, sgd_follows_keras_rule);
    tcase_add_test(tc, adam_family_follows_keras_rules);
    tcase_add_test(tc, nadam_default_and_legacy_rules);
    tcase_add_test(tc, rmsprop_adagrad_adadelta_follow_keras_rules);
    tcase_add_test(tc, zero_or_null_epsilon_is_keras_default);
    tcase_add_test(tc, weight_names_and_order_are_keras_legacy);
    tcase_add_test(tc, weights_follow_creation_order_across_calls);
    tcase_add_test(tc, slot_initial_values);
    tcase_add_test(tc, restored_state_gives_the_same_next_step);
    tcase_add_test(tc, set_weights_checks_counts_and_shapes);
    tcase_add_test(tc, set_weights_accepts_keras1_lists);
    tcase_add_test(tc, null_gradients_are_skipped);
    tcase_add_test(tc, apply_gradients_errors_name_the_variable);
    tcase_add_test(tc, gradient_clipping_as_tf_keras);
    tcase_add_test(tc, constraints_are_applied_after_the_update);
    tcase_add_test(tc, failed_constraint_leaves_everything_unchanged);
    tcase_add_test(tc, custom_optimizer_classes_use_the_base);
    tcase_add_test(tc, training_matches_tensorflow_js);
    tcase_add_test(tc, allocation_failures_are_enomem_without_leaks);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("schedules and configs");
    tcase_add_checked_fixture(ts, setup, NULL);
    tcase_add_test(ts, schedules_give_keras_values);
    tcase_add_test(ts, schedule_value_of_other_objects_is_nan);
    tcase_add_test(ts, optimizer_follows_its_schedule);
    tcase_add_test(ts, every_builtin_class_round_trips);
    tcase_add_test(ts, keras_written_configs_round_trip);
    tcase_add_test(ts, other_writers_configs_load);
    tcase_add_test(ts, bad_configs_are_errors);
    suite_add_tcase(s, ts);
    return s;
}

TU_MAIN(make_suite)
