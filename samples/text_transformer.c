/* Sample 10: a transformer over token sequences, with the positional
 * embedding written as a custom layer.
 *
 * Keras' "Text classification with Transformer" example
 * (keras-io examples/nlp/text_classification_with_transformer.py) defines
 *
 *     class TokenAndPositionEmbedding(layers.Layer):
 *         def __init__(self, maxlen, vocab_size, embed_dim):
 *             self.token_emb = layers.Embedding(vocab_size, embed_dim)
 *             self.pos_emb = layers.Embedding(maxlen, embed_dim)
 *         def call(self, x):
 *             positions = tf.range(0, tf.shape(x)[-1])
 *             return self.token_emb(x) + self.pos_emb(positions)
 *         def get_config(self): ...maxlen, vocab_size, embed_dim
 *
 * and feeds it to a transformer block: MultiHeadAttention(x, x) -> Dropout
 * -> Add -> LayerNormalization -> Dense(ff, relu) -> Dense(embed_dim) ->
 * Dropout -> Add -> LayerNormalization, then GlobalAveragePooling1D ->
 * Dropout -> Dense(20, relu) -> Dropout -> Dense(classes, softmax).
 *
 * Here the same class is a C struct with the Layer base, its two tables as
 * weights (token_emb/embeddings, pos_emb/embeddings, initialized
 * uniform(-0.05, 0.05) as Keras' Embedding), a call made of ops (gather,
 * slice, add: the tape differentiates it) and get_config / from_config for
 * its three arguments. The "text" is the UCI digits, each image read as a
 * sentence of 32 words, one per pair of adjacent pixels: "row r has mean
 * intensity v" (136 words). The model trains,
 * saves to .h5 (the custom layer by class name and config, the attention
 * call as Keras 2 writes mha(x, x)), and loads back through custom_objects
 * with identical predictions. Exit 1 if a check fails.
 *
 * Run: text_transformer DATA_DIR OUT_DIR */
#include <ckeras.h>

#include "common/datasets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kc_error err;

static void die(const char *where)
{
    char buf[1024];
    fprintf(stderr, "text_transformer: %s: %s\n", where, kc_error_format(&err, buf, sizeof buf));
    exit(1);
}
#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((call) != KC_OK) die(#call);                                                           \
    } while (0)
static void *nn(void *p, const char *where)
{
    if (!p) die(where);
    return p;
}
#define NN(call) nn((call), #call)

static int failed;
static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    failed |= !ok;
}

/* ---- TokenAndPositionEmbedding ------------------------------------------------------------------ */

typedef struct token_and_position_embedding {
    kc_layer base;                       /* the Layer base first */
    int64_t maxlen, vocab_size, embed_dim;
    kc_variable *token_table, *pos_table; /* owned by the base */
} token_and_position_embedding;

static kc_status tpe_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    const token_and_position_embedding *t = (const token_and_position_embedding *)self;
    if (json_object_set_new(config, "maxlen", json_integer(t->maxlen)) ||
        json_object_set_new(config, "vocab_size", json_integer(t->vocab_size)) ||
        json_object_set_new(config, "embed_dim", json_integer(t->embed_dim)))
        return kc_error_set(e, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static kc_status tpe_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx, kc_error *e)
{
    token_and_position_embedding *t = (token_and_position_embedding *)self;
    unsigned req = KC_CFG_REQUIRED | KC_CFG_POSITIVE;
    kc_status rc = kc_cfg_int(ctx, config, "maxlen", req, 0, &t->maxlen, e);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, config, "vocab_size", req, 0, &t->vocab_size, e);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, config, "embed_dim", req, 0, &t->embed_dim, e);
    return rc;
}

static kc_status tpe_build(kc_object *self, const kc_shape *in, int n_in, kc_error *e)
{
    (void)in, (void)n_in;
    token_and_position_embedding *t = (token_and_position_embedding *)self;
    kc_object *uniform = kc_object_create(KC_KIND_INITIALIZER,
                                          "{\"class_name\": \"RandomUniform\", \"config\": {\"minval\": -0.05, \"maxval\": 0.05}}", e);
    if (!uniform) return e->code;
    /* the sub-layers' weights, named as their attributes */
    t->token_table = kc_layer_add_weight(self, "token_emb/embeddings", 2, (int64_t[]){t->vocab_size, t->embed_dim},
                                         uniform, NULL, NULL, true, e);
    if (t->token_table)
        t->pos_table = kc_layer_add_weight(self, "pos_emb/embeddings", 2, (int64_t[]){t->maxlen, t->embed_dim}, uniform,
                                           NULL, NULL, true, e);
    kc_object_unref(uniform);
    return t->pos_table ? KC_OK : e->code;
}

static kc_status tpe_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out, kc_error *e)
{
    (void)n_out;
    token_and_position_embedding *t = (token_and_position_embedding *)self;
    kc_tensor *x = args->inputs[0];
    int64_t len = kc_tensor_dim(x, -1);
    kc_scope *s = kc_scope_new(e);
    kc_tensor *ids = kc_tensor_dtype(x) == KC_FLOAT32 ? kc_scope_take(s, kc_cast(x, KC_INT32, e)) : x;
    kc_tensor *tokens = kc_scope_take(s, kc_gather(kc_variable_value(t->token_table), ids, 0, e)); /* token_emb(x) */
    kc_tensor *positions = kc_scope_take(s, kc_slice(kc_variable_value(t->pos_table), (int64_t[]){0, 0},
                                                     (int64_t[]){len, -1}, e)); /* pos_emb(range(len)) */
    out[0] = tokens && positions ? kc_add(tokens, positions, e) : NULL;
    kc_scope_free(s);
    return out[0] ? KC_OK : e->code;
}

static kc_status tpe_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                                  kc_error *e)
{
    (void)n_in;
    const token_and_position_embedding *t = (const token_and_position_embedding *)self;
    int64_t len = in[0].dims[in[0].ndim - 1];
    if (len > t->maxlen) return kc_error_set(e, KC_ESHAPE, "sequences longer than maxlen %lld", (long long)t->maxlen);
    out[0] = in[0];
    out[0].dims[out[0].ndim++] = t->embed_dim; /* (batch, len, embed_dim) */
    *n_out = 1;
    return KC_OK;
}

static const kc_layer_methods tpe_methods = {
    .build = tpe_build, .call = tpe_call, .compute_output_shape = tpe_output_shape};
static const kc_class tpe_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_LAYER, .name = "TokenAndPositionEmbedding",
    .size = sizeof(token_and_position_embedding), .config_version = 1, .get_config = tpe_get_config,
    .from_config = tpe_from_config, .methods = &tpe_methods};

/* ---- the model ---------------------------------------------------------------------------------- */

/* layer(inputs), dropping the layer reference: the model keeps its own. */
static kc_symbol *apply(kc_object *layer, kc_symbol *const *in, int n, const char *const *names)
{
    kc_symbol *out[KC_MAX_LAYER_OUTPUTS];
    int n_out = 0;
    TRY(kc_apply_kw(NN(layer), in, names, n, NULL, out, &n_out, &err));
    kc_object_unref(layer);
    return out[0];
}
static kc_symbol *apply1(kc_object *layer, kc_symbol *x) { return apply(layer, &x, 1, NULL); }
#define LAYER(cls, cfg) kc_layer_create(cls, cfg, &err)

static kc_object *build_model(void)
{
    enum { MAXLEN = 32, VOCAB = 136, EMBED = 32 };
    kc_symbol *in = NN(kc_input(1, (int64_t[]){MAXLEN}, "tokens", &err));
    kc_object *emb = NN(kc_object_new(&tpe_class, &err));
    token_and_position_embedding *t = (token_and_position_embedding *)emb;
    t->maxlen = MAXLEN, t->vocab_size = VOCAB, t->embed_dim = EMBED;
    kc_symbol *x = apply1(emb, in);
    /* TransformerBlock(embed_dim=32, num_heads=2, ff_dim=32) */
    kc_symbol *att = apply(LAYER("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 32}"), (kc_symbol *[]){x, x}, 2,
                           NULL); /* mha(x, x): query and value */
    kc_symbol *a1 = apply1(LAYER("Dropout", "{\"rate\": 0.1}"), att);
    kc_symbol *r1 = apply(LAYER("Add", NULL), (kc_symbol *[]){x, a1}, 2, NULL);
    kc_symbol *o1 = apply1(LAYER("LayerNormalization", "{\"epsilon\": 1e-6}"), r1);
    kc_symbol *f1 = apply1(LAYER("Dense", "{\"units\": 32, \"activation\": \"relu\"}"), o1);
    kc_symbol *f2 = apply1(LAYER("Dense", "{\"units\": 32}"), f1);
    kc_symbol *f3 = apply1(LAYER("Dropout", "{\"rate\": 0.1}"), f2);
    kc_symbol *r2 = apply(LAYER("Add", NULL), (kc_symbol *[]){o1, f3}, 2, NULL);
    kc_symbol *o2 = apply1(LAYER("LayerNormalization", "{\"epsilon\": 1e-6}"), r2);
    /* the classifier head */
    kc_symbol *g = apply1(LAYER("GlobalAveragePooling1D", NULL), o2);
    kc_symbol *h1 = apply1(LAYER("Dropout", "{\"rate\": 0.1}"), g);
    kc_symbol *h2 = apply1(LAYER("Dense", "{\"units\": 20, \"activation\": \"relu\"}"), h1);
    kc_symbol *h3 = apply1(LAYER("Dropout", "{\"rate\": 0.1}"), h2);
    kc_symbol *out = apply1(LAYER("Dense", "{\"units\": 10, \"activation\": \"softmax\"}"), h3);
    kc_object *m = NN(kc_functional_new(&in, 1, &out, 1, "text_transformer", &err));
    kc_symbol *all[] = {in, x, att, a1, r1, o1, f1, f2, f3, r2, o2, g, h1, h2, h3, out};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) kc_symbol_unref(all[i]);
    return m;
}

/* The words of an image: its 32 pairs of horizontally adjacent pixels, each
 * "row r has mean intensity v" (v 0..16): token 17 r + v. */
static kc_tensor *as_tokens(kc_tensor *x)
{
    int64_t n = kc_tensor_dim(x, 0);
    kc_tensor *ids = NN(kc_tensor_empty(KC_INT32, 2, (int64_t[]){n, 32}, &err));
    const float *p = kc_tensor_cdata(x);
    int32_t *q = kc_tensor_data(ids);
    for (int64_t s = 0; s < n; s++)
        for (int j = 0; j < 32; j++) {
            const float *px = p + s * 64 + j / 4 * 8 + j % 4 * 2;
            q[s * 32 + j] = (j / 4) * 17 + (int32_t)((px[0] + px[1]) * 8.0f + 0.5f);
        }
    return ids;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: text_transformer DATA_DIR OUT_DIR\n");
        return 2;
    }
    kc_set_random_seed(5);
    kc_tensor *xtr, *ytr, *xte, *yte;
    TRY(ds_digits(argv[1], 1437, &xtr, &ytr, &xte, &yte, &err));
    kc_tensor *ttr = as_tokens(xtr), *tte = as_tokens(xte);
    kc_object *model = build_model();
    TRY(kc_model_compile(model, "{\"optimizer\": {\"class_name\": \"Adam\", \"config\": {\"learning_rate\": 0.001}},"
                                " \"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\"]}", NULL, &err));
    kc_fit_args fit = {.x = &ttr, .n_x = 1, .y = &ytr, .n_y = 1, .batch_size = 16, .epochs = 6, .verbose = 2};
    TRY(kc_model_fit(model, &fit, NULL, &err));
    kc_fit_args eval = {.x = &tte, .n_x = 1, .y = &yte, .n_y = 1};
    kc_logs *logs;
    TRY(kc_model_evaluate(model, &eval, &logs, &err));
    double acc = 0;
    kc_logs_get(logs, "accuracy", &acc);
    kc_logs_free(logs);
    printf("test accuracy %.4f\n", acc);
    check(acc >= 0.65, "the transformer reads the digits as token sequences (test accuracy >= 0.65; chance is 0.1)");

    /* save; load back with the custom class given in custom_objects */
    char path[4096];
    snprintf(path, sizeof path, "%s/text_transformer.h5", argv[2]);
    TRY(kc_model_save(model, path, NULL, &err));
    kc_custom_objects *custom = NN(kc_custom_objects_new(&err));
    TRY(kc_custom_objects_add_class(custom, NULL, &tpe_class, &err));
    kc_load_options opts = {.custom_objects = custom};
    kc_object *loaded = NN(kc_model_load(path, &opts, &err));
    kc_object *emb = kc_model_get_layer(loaded, "token_and_position_embedding");
    json_t *cfg = NULL;
    if (emb) TRY(kc_object_get_config(emb, &cfg, &err));
    check(cfg && json_integer_value(json_object_get(cfg, "maxlen")) == 32 &&
              json_integer_value(json_object_get(cfg, "vocab_size")) == 136 &&
              json_integer_value(json_object_get(cfg, "embed_dim")) == 32,
          "get_config saved maxlen, vocab_size and embed_dim");
    json_decref(cfg);
    kc_tensor *p1, *p2;
    int n;
    TRY(kc_model_predict(model, &tte, 1, 64, &p1, &n, &err));
    TRY(kc_model_predict(loaded, &tte, 1, 64, &p2, &n, &err));
    check(memcmp(kc_tensor_cdata(p1), kc_tensor_cdata(p2), kc_tensor_nbytes(p1)) == 0,
          "the reloaded model predicts the same, bit for bit");
    /* without the class, loading names what is missing */
    kc_error_clear(&err);
    kc_object *none = kc_model_load(path, NULL, &err);
    check(!none && strstr(err.message, "TokenAndPositionEmbedding") != NULL,
          "loading without custom_objects names the missing class");
    kc_tensor_unref(p1), kc_tensor_unref(p2);
    kc_tensor_unref(xtr), kc_tensor_unref(ytr), kc_tensor_unref(xte), kc_tensor_unref(yte);
    kc_tensor_unref(ttr), kc_tensor_unref(tte);
    kc_custom_objects_free(custom);
    kc_object_unref(model), kc_object_unref(loaded);
    return failed;
}
