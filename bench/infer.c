/* bench/infer: inference latency of three models through kc_model_predict,
 * against the sgemm rate measured in the same run:
 *   mobilenet  the Teachable Machine export in tests/data/keras-wild
 *              (MobileNetV2 alpha 0.35, 224x224x3, a Dense head), loaded
 *              from its Keras 2.4 file;
 *   resnet     a ResNet-style CNN built here (32x32x3, Conv-BN-ReLU stem,
 *              two residual blocks of 3x3 Conv-BN-ReLU at 32 and at 64
 *              channels, the second strided with a 1x1 projection,
 *              GlobalAveragePooling2D, Dense 10 softmax);
 *   lstm       LSTM(128) over 50 steps of 32 features, Dense 10;
 *   transformer  the encoder of the Keras example "Timeseries
 *              classification with a Transformer model" over 64 steps of
 *              32 features: two blocks of LayerNormalization ->
 *              MultiHeadAttention(x, x) (4 heads, key_dim 64) -> Add ->
 *              LayerNormalization -> Conv1D(64, 1, relu) -> Conv1D(32, 1)
 *              -> Add, then GlobalAveragePooling1D, Dense 128, Dense 10.
 * For each model, batch 1 and 32, 1 and 2 threads, it prints
 *
 *   latency_ms_b1 / latency_ms_b32   median time of one predict call
 *   ratio_vs_gemm_floor              floor / latency, where the floor is the
 *                                    model's FLOPs (convolutions, Dense,
 *                                    recurrent products; 2 per MAC) at the
 *                                    rate of a 512x512x512 cblas_sgemm
 *                                    timed in the same run and threads
 *   cpu_ms_b1 / cpu_ms_b32           (1 thread) median process CPU time
 *                                    of a call: on a machine shared with
 *                                    other work, closer to the unloaded
 *                                    latency than the wall time
 *
 * A ratio of 1 means predict runs as fast as its arithmetic would on
 * OpenBLAS' best GEMM shape; below 1 is overhead and small-GEMM
 * inefficiency; above 1 is possible with direct kernels. FLOPs are counted
 * from the layers' configs, weights and output shapes, walking the model
 * config (nested Sequential / Functional models included).
 *
 * Usage: bench_infer [model ...] (default: all four). Data path: the
 * CKERAS_SOURCE_ROOT environment variable, else the current directory. */
#define _POSIX_C_SOURCE 200809L
#include <ckeras.h>

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The reference is OpenBLAS with a pool of its own at the same number of
 * threads; ckeras keeps OpenBLAS on one thread and shares products out
 * over its own pool, so the reference sets OpenBLAS' threads around it. */
void openblas_set_num_threads(int n);

static double clock_s(clockid_t which)
{
    struct timespec ts;
    clock_gettime(which, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp);
    return v[n / 2];
}

static void die(const char *what, const kc_error *err)
{
    fprintf(stderr, "bench/infer: %s: %s (%s)\n", what, err->message, err->context);
    exit(1);
}

/* ---- FLOPs from the model config -------------------------------------------------------- */

#define MAX_NAMES 1024

typedef struct shapes {
    char *name[MAX_NAMES];
    kc_shape shape[MAX_NAMES];
    int n;
} shapes;

static kc_shape *lookup(shapes *s, const char *name)
{
    for (int i = s->n - 1; i >= 0; i--)
        if (strcmp(s->name[i], name) == 0) return &s->shape[i];
    return NULL;
}

static void remember(shapes *s, const char *name, kc_shape sh)
{
    if (s->n == MAX_NAMES) return;
    s->name[s->n] = strdup(name);
    s->shape[s->n++] = sh;
}

static void forget(shapes *s)
{
    for (int i = 0; i < s->n; i++) free(s->name[i]);
    s->n = 0;
}

static int64_t elems(const kc_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->dims[i];
    return n;
}

static const int64_t *wdims(kc_object *layer, int i)
{
    return kc_tensor_dims(kc_variable_value(kc_layer_weight(layer, i)));
}

static int wndim(kc_object *layer, int i) { return kc_tensor_ndim(kc_variable_value(kc_layer_weight(layer, i))); }

static double model_flops(kc_object *model, const json_t *cfg, const kc_shape *in);

/* FLOPs of one layer call on input shape in, output shape out. */
static double layer_flops(kc_object *layer, const json_t *lcfg, const kc_shape *in, const kc_shape *out)
{
    const char *cls = kc_object_name(layer);
    if (kc_is_model(layer)) return model_flops(layer, lcfg, in);
    if (!strcmp(cls, "Conv1D") || !strcmp(cls, "Conv2D") || !strcmp(cls, "Conv3D")) {
        int nd = wndim(layer, 0);
        const int64_t *k = wdims(layer, 0);
        double per = 1;
        for (int i = 0; i < nd - 1; i++) per *= (double)k[i]; /* taps * cin / groups */
        return 2.0 * per * (double)elems(out);
    }
    if (!strcmp(cls, "DepthwiseConv2D") || !strcmp(cls, "DepthwiseConv1D")) {
        int nd = wndim(layer, 0);
        const int64_t *k = wdims(layer, 0);
        double taps = 1;
        for (int i = 0; i < nd - 2; i++) taps *= (double)k[i];
        return 2.0 * taps * (double)elems(out);
    }
    if (!strcmp(cls, "Dense")) return 2.0 * (double)wdims(layer, 0)[0] * (double)elems(out);
    if (!strcmp(cls, "MultiHeadAttention")) { /* self-attention: query = value = key */
        const json_t *c = json_object_get(lcfg, "config");
        double h = (double)json_integer_value(json_object_get(c, "num_heads"));
        double k = (double)json_integer_value(json_object_get(c, "key_dim"));
        const json_t *vd = json_object_get(c, "value_dim");
        double v = json_is_integer(vd) ? (double)json_integer_value(vd) : k;
        double b = (double)in->dims[0], t = (double)in->dims[1], f = (double)in->dims[in->ndim - 1];
        double projections = 2.0 * b * t * f * h * (k + k + v) + 2.0 * b * t * h * v * f;
        double products = 2.0 * b * h * t * t * (k + v); /* scores and context */
        return projections + products;
    }
    if (!strcmp(cls, "LSTM") || !strcmp(cls, "GRU")) {
        const int64_t *k = wdims(layer, 0), *u = wdims(layer, 1);
        double steps = in->ndim == 3 ? (double)in->dims[1] : 1;
        return 2.0 * (double)in->dims[0] * steps * (double)k[1] * (double)(k[0] + u[0]);
    }
    return 0.0;
}

/* Walk a Sequential or Functional config with input shape in. */
static double model_flops(kc_object *model, const json_t *cfg, const kc_shape *in)
{
    const json_t *c = json_object_get(cfg, "config"), *layers = json_object_get(c, "layers");
    bool seq = !strcmp(json_string_value(json_object_get(cfg, "class_name")), "Sequential");
    shapes s = {.n = 0};
    kc_shape cur = *in;
    double total = 0;
    size_t i;
    const json_t *l;
    kc_error err = {0};
    json_array_foreach(layers, i, l)
    {
        const char *name = json_string_value(json_object_get(json_object_get(l, "config"), "name"));
        const char *cls = json_string_value(json_object_get(l, "class_name"));
        if (!strcmp(cls, "InputLayer")) {
            remember(&s, name, *in);
            continue;
        }
        kc_object *layer = kc_model_get_layer(model, name);
        if (!layer) continue;
        kc_shape ins[8];
        int n_in = 0;
        if (seq) {
            ins[n_in++] = cur;
        } else {
            const json_t *node = json_array_get(json_object_get(l, "inbound_nodes"), 0);
            size_t j;
            const json_t *ref;
            json_array_foreach(node, j, ref)
            {
                kc_shape *sh = lookup(&s, json_string_value(json_array_get(ref, 0)));
                if (sh && n_in < 8) ins[n_in++] = *sh;
            }
        }
        /* Keras 2 nodes give the value of mha(x, x) as a keyword argument:
         * the models here attend to themselves */
        if (!strcmp(cls, "MultiHeadAttention") && n_in == 1) ins[n_in++] = ins[0];
        kc_shape out[KC_MAX_LAYER_OUTPUTS];
        int n_out = 0;
        if (kc_layer_compute_output_shape(layer, ins, n_in, out, &n_out, &err) != KC_OK) die(name, &err);
        total += layer_flops(layer, l, &ins[0], &out[0]);
        remember(&s, name, out[0]);
        cur = out[0];
    }
    forget(&s);
    return total;
}

static double flops_of(kc_object *model, int64_t batch)
{
    kc_error err = {0};
    json_t *cfg = NULL;
    if (kc_serialize(model, &cfg, &err) != KC_OK) die("config", &err);
    kc_shape in = kc_model_input_shape(model, 0);
    in.dims[0] = batch;
    double f = model_flops(model, cfg, &in);
    json_decref(cfg);
    return f;
}

/* ---- models -------------------------------------------------------------------------------- */

static kc_object *layer(const char *cls, const char *cfg)
{
    kc_error err = {0};
    kc_object *l = kc_layer_create(cls, cfg, &err);
    if (!l) die(cls, &err);
    return l;
}

static kc_symbol *apply(kc_object *l, kc_symbol *x)
{
    kc_error err = {0};
    kc_symbol *y = kc_apply(l, &x, 1, &err);
    if (!y) die("apply", &err);
    kc_object_unref(l);
    return y;
}

static kc_symbol *conv_bn(kc_symbol *x, int filters, int k, int stride, bool relu)
{
    char cfg[200];
    snprintf(cfg, sizeof cfg,
             "{\"filters\": %d, \"kernel_size\": %d, \"strides\": %d, \"padding\": \"same\", \"use_bias\": false}",
             filters, k, stride);
    kc_symbol *y = apply(layer("Conv2D", cfg), x);
    kc_symbol *z = apply(layer("BatchNormalization", NULL), y);
    kc_symbol_unref(y);
    if (!relu) return z;
    y = apply(layer("ReLU", NULL), z);
    kc_symbol_unref(z);
    return y;
}

static kc_symbol *block(kc_symbol *x, int filters, int stride)
{
    kc_error err = {0};
    kc_symbol *a = conv_bn(x, filters, 3, stride, true);
    kc_symbol *b = conv_bn(a, filters, 3, 1, false);
    kc_symbol *skip = stride == 1 ? kc_symbol_ref(x) : conv_bn(x, filters, 1, stride, false);
    kc_symbol *sum_in[2] = {b, skip};
    kc_object *add = layer("Add", NULL);
    kc_symbol *sum = kc_apply(add, sum_in, 2, &err);
    if (!sum) die("add", &err);
    kc_object_unref(add);
    kc_symbol *y = apply(layer("ReLU", NULL), sum);
    kc_symbol_unref(a), kc_symbol_unref(b), kc_symbol_unref(skip), kc_symbol_unref(sum);
    return y;
}

static kc_object *build_resnet(void)
{
    kc_error err = {0};
    kc_symbol *in = kc_input(3, (int64_t[]){32, 32, 3}, NULL, &err);
    if (!in) die("input", &err);
    kc_symbol *x = conv_bn(in, 32, 3, 1, true);
    kc_symbol *y = block(x, 32, 1);
    kc_symbol_unref(x);
    x = block(y, 64, 2);
    kc_symbol_unref(y);
    y = apply(layer("GlobalAveragePooling2D", NULL), x);
    kc_symbol_unref(x);
    x = apply(layer("Dense", "{\"units\": 10, \"activation\": \"softmax\"}"), y);
    kc_symbol_unref(y);
    kc_object *m = kc_functional_new(&in, 1, &x, 1, "resnet", &err);
    if (!m) die("model", &err);
    kc_symbol_unref(in), kc_symbol_unref(x);
    /* non-trivial BatchNormalization statistics, as a trained model has */
    for (int i = 0; i < kc_layer_num_weights(m); i++) {
        kc_variable *v = kc_layer_weight(m, i);
        const char *name = kc_variable_name(v);
        float *p = kc_tensor_f32(kc_variable_value(v));
        int64_t n = kc_tensor_size(kc_variable_value(v));
        for (int64_t j = 0; j < n; j++) {
            float r = (float)((j * 2654435761u) % 1000u) / 1000.0f;
            if (strstr(name, "moving_variance")) p[j] = 0.5f + r;
            else if (strstr(name, "moving_mean")) p[j] = 0.2f * (r - 0.5f);
            else if (strstr(name, "gamma")) p[j] = 0.8f + 0.4f * r;
            else if (strstr(name, "beta")) p[j] = 0.1f * (r - 0.5f);
        }
    }
    return m;
}

static kc_object *build_lstm(void)
{
    kc_error err = {0};
    kc_object *m = kc_sequential_new("lstm_model", &err), *l = kc_input_layer(2, (int64_t[]){50, 32}, NULL, &err);
    if (!m || !l || kc_sequential_add(m, l, &err) != KC_OK) die("model", &err);
    kc_object_unref(l);
    l = layer("LSTM", "{\"units\": 128}");
    if (kc_sequential_add(m, l, &err) != KC_OK) die("lstm", &err);
    kc_object_unref(l);
    l = layer("Dense", "{\"units\": 10}");
    if (kc_sequential_add(m, l, &err) != KC_OK) die("dense", &err);
    kc_object_unref(l);
    return m;
}

static kc_symbol *apply2(kc_object *l, kc_symbol *a, kc_symbol *b)
{
    kc_error err = {0};
    kc_symbol *y = NULL;
    int n = 0;
    if (kc_apply_kw(l, (kc_symbol *[]){a, b}, NULL, 2, NULL, &y, &n, &err) != KC_OK) die("apply", &err);
    kc_object_unref(l);
    return y;
}

static kc_symbol *encoder_block(kc_symbol *x)
{
    kc_symbol *ln = apply(layer("LayerNormalization", "{\"epsilon\": 1e-6}"), x);
    kc_symbol *att = apply2(layer("MultiHeadAttention", "{\"num_heads\": 4, \"key_dim\": 64}"), ln, ln);
    kc_symbol *res = apply2(layer("Add", NULL), att, x);
    kc_symbol *ln2 = apply(layer("LayerNormalization", "{\"epsilon\": 1e-6}"), res);
    kc_symbol *ff = apply(layer("Conv1D", "{\"filters\": 64, \"kernel_size\": 1, \"activation\": \"relu\"}"), ln2);
    kc_symbol *ff2 = apply(layer("Conv1D", "{\"filters\": 32, \"kernel_size\": 1}"), ff);
    kc_symbol *out = apply2(layer("Add", NULL), ff2, res);
    kc_symbol_unref(ln), kc_symbol_unref(att), kc_symbol_unref(res);
    kc_symbol_unref(ln2), kc_symbol_unref(ff), kc_symbol_unref(ff2);
    return out;
}

static kc_object *build_transformer(void)
{
    kc_error err = {0};
    kc_symbol *in = kc_input(2, (int64_t[]){64, 32}, NULL, &err);
    if (!in) die("input", &err);
    kc_symbol *x = encoder_block(in), *y = encoder_block(x);
    kc_symbol_unref(x);
    x = apply(layer("GlobalAveragePooling1D", "{\"data_format\": \"channels_first\"}"), y);
    kc_symbol_unref(y);
    y = apply(layer("Dense", "{\"units\": 128, \"activation\": \"relu\"}"), x);
    kc_symbol_unref(x);
    x = apply(layer("Dense", "{\"units\": 10, \"activation\": \"softmax\"}"), y);
    kc_symbol_unref(y);
    kc_object *m = kc_functional_new(&in, 1, &x, 1, "transformer", &err);
    if (!m) die("model", &err);
    kc_symbol_unref(in), kc_symbol_unref(x);
    return m;
}

static kc_object *load_mobilenet(void)
{
    kc_error err = {0};
    const char *root = getenv("CKERAS_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/keras-wild/seq_teachable_mobilenetv2_k2.4.0.h5", root ? root : ".");
    kc_object *m = kc_model_load(path, NULL, &err);
    if (!m) die(path, &err);
    return m;
}

/* ---- timing ----------------------------------------------------------------------------------- */

static double sgemm_rate(int threads)
{
    enum { N = 512 };
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N), *c = malloc(sizeof(float) * N * N);
    for (int i = 0; i < N * N; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    double t[9];
    openblas_set_num_threads(threads);
    for (int r = 0; r < 10; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
        if (r) t[r - 1] = now() - t0;
    }
    openblas_set_num_threads(1);
    free(a), free(b), free(c);
    return 2.0 * N * N * N / median(t, 9);
}

static kc_tensor *input_for(kc_object *m, int64_t batch)
{
    kc_error err = {0};
    kc_shape s = kc_model_input_shape(m, 0);
    s.dims[0] = batch;
    kc_tensor *x = kc_tensor_empty(KC_FLOAT32, s.ndim, s.dims, &err);
    if (!x) die("input", &err);
    float *p = kc_tensor_f32(x);
    for (int64_t i = 0; i < kc_tensor_size(x); i++) p[i] = (float)sin(0.001 * (double)i);
    return x;
}

/* Median wall time of a predict call; *cpu receives the median process
 * CPU time of the calls (on one thread, the time the call ran: a figure
 * that other programs sharing the cores disturb much less). */
static double time_predict(kc_object *m, kc_tensor *x, int reps, double *cpu)
{
    kc_error err = {0};
    double t[64], c[64];
    if (reps > 64) reps = 64;
    for (int r = -1; r < reps; r++) {
        kc_tensor *out[4];
        int n = 0;
        double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = now();
        if (kc_model_predict(m, &x, 1, kc_tensor_dim(x, 0), out, &n, &err) != KC_OK) die("predict", &err);
        double t1 = now(), c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        for (int i = 0; i < n; i++) kc_tensor_unref(out[i]);
        if (r >= 0) t[r] = t1 - t0, c[r] = c1 - c0;
    }
    *cpu = median(c, reps);
    return median(t, reps);
}

static void run(const char *name, kc_object *m)
{
    double f1 = flops_of(m, 1), f32 = flops_of(m, 32);
    printf("bench/infer: %s, %.1f MFLOP per sample\n", name, f1 * 1e-6);
    for (int threads = 1; threads <= 2; threads++) {
        kc_set_num_threads(threads);
        kc_tensor *x1 = input_for(m, 1), *x32 = input_for(m, 32);
        double rate = sgemm_rate(threads);
        double c1, c32;
        double t1 = time_predict(m, x1, 31, &c1), t32 = time_predict(m, x32, 7, &c32);
        double rate2 = sgemm_rate(threads);
        rate = rate > rate2 ? rate : rate2;
        printf("  %d thread(s): sgemm %.1f GFLOP/s | latency_ms_b1: %.3f  ratio_vs_gemm_floor_b1: %.3f | "
               "latency_ms_b32: %.2f  ratio_vs_gemm_floor: %.3f",
               threads, rate * 1e-9, t1 * 1e3, f1 / rate / t1, t32 * 1e3, f32 / rate / t32);
        if (threads == 1) printf(" | cpu_ms_b1: %.3f  cpu_ms_b32: %.2f", c1 * 1e3, c32 * 1e3);
        printf("\n");
        kc_tensor_unref(x1), kc_tensor_unref(x32);
    }
}

int main(int argc, char **argv)
{
    const char *all[] = {"mobilenet", "resnet", "lstm", "transformer"};
    printf("bench/infer: %s\n", kc_compute_backends());
    int n = argc > 1 ? argc - 1 : 4;
    for (int i = 0; i < n; i++) {
        const char *which = argc > 1 ? argv[i + 1] : all[i];
        kc_object *m = !strcmp(which, "mobilenet") ? load_mobilenet()
                       : !strcmp(which, "resnet")  ? build_resnet()
                       : !strcmp(which, "lstm")    ? build_lstm()
                       : !strcmp(which, "transformer") ? build_transformer()
                                                   : NULL;
        if (!m) {
            fprintf(stderr, "bench/infer: unknown model '%s' (mobilenet, resnet, lstm, transformer)\n", which);
            return 64;
        }
        run(which, m);
        kc_object_unref(m);
    }
    kc_release_caches();
    return 0;
}
