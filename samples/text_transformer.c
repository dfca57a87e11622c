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
 * Here the same class is a C struct with the Layer base that owns its two
 * Embedding layers, as the Keras class does (kc_layer_track_layer_take:
 * their tables are its weights, saved as token_and_position_embedding/
 * embedding/embeddings:0 in .h5 files and under token_emb, pos_emb in
 * Keras 3's layout); its call runs them (token_emb(x) + pos_emb(positions),
 * ops the tape differentiates), and get_config / from_config carry its
 * three arguments, so a loaded file rebuilds its embeddings. The "text" is
 * the UCI digits, each image read as a sentence of 32 words, one per pair
 * of adjacent pixels: "row r has mean intensity v" (136 words). The model
 * trains, saves to .h5 (the custom layer by class name and config, the
 * attention call as Keras 2 writes mha(x, x)), and loads back through
 * custom_objects with identical predictions. Exit 1 if a check fails.
 *
 * Lines: not a seed part (Keras' text-classification example; the seed has no transformer).
 *
 * Run: text_transformer DATA_DIR OUT_DIR */
#include <ckeras.h>

#include "common/check.h"
#include "common/datasets.h"

#include <string.h>

/* ---- TokenAndPositionEmbedding ------------------------------------------------------------------ */

typedef struct token_and_position_embedding {
    kc_layer base;                  /* the Layer base first */
    int64_t maxlen, vocab_size, embed_dim;
    kc_object *token_emb, *pos_emb; /* borrowed: the layer tracks (owns) them */
} token_and_position_embedding;

/* __init__(self, maxlen, vocab_size, embed_dim): the two Embedding layers */
static kc_status tpe_from_config(kc_object *self, const json_t *config, const kc_config_ctx *ctx, kc_error *e)
{
    token_and_position_embedding *t = (token_and_position_embedding *)self;
    unsigned req = KC_CFG_REQUIRED | KC_CFG_POSITIVE;
    kc_status rc = kc_cfg_int(ctx, config, "maxlen", req, 0, &t->maxlen, e);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, config, "vocab_size", req, 0, &t->vocab_size, e);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, config, "embed_dim", req, 0, &t->embed_dim, e);
    if (rc == KC_OK)
        t->token_emb = kc_layer_track_layer_take(
            self, "token_emb",
            kc_layers_embedding(&(kc_layers_embedding_args){.input_dim = t->vocab_size, .output_dim = t->embed_dim}, e),
            e);
    if (rc == KC_OK && t->token_emb)
        t->pos_emb = kc_layer_track_layer_take(
            self, "pos_emb",
            kc_layers_embedding(&(kc_layers_embedding_args){.input_dim = t->maxlen, .output_dim = t->embed_dim}, e), e);
    return rc == KC_OK && !t->pos_emb ? e->code : rc;
}

static kc_status tpe_get_config(const kc_object *self, json_t *config, kc_error *e)
{
    const token_and_position_embedding *t = (const token_and_position_embedding *)self;
    kc_status rc = kc_cfg_set_int(config, "maxlen", t->maxlen, e);
    if (rc == KC_OK) rc = kc_cfg_set_int(config, "vocab_size", t->vocab_size, e);
    return rc == KC_OK ? kc_cfg_set_int(config, "embed_dim", t->embed_dim, e) : rc;
}

/* The embeddings are built here, so a loaded model has their tables before they are read. */
static kc_status tpe_build(kc_object *self, const kc_shape *in, int n_in, kc_error *e)
{
    (void)n_in;
    token_and_position_embedding *t = (token_and_position_embedding *)self;
    kc_status rc = kc_layer_build(t->token_emb, in, 1, e);
    return rc == KC_OK ? kc_layer_build(t->pos_emb, (kc_shape[]){kc_shape_make(1, (int64_t[]){t->maxlen})}, 1, e) : rc;
}

/* call(self, x): positions = range(len); return token_emb(x) + pos_emb(positions) */
static kc_status tpe_call(kc_object *self, const kc_call_args *args, kc_tensor **out, int n_out, kc_error *e)
{
    (void)n_out;
    token_and_position_embedding *t = (token_and_position_embedding *)self;
    kc_tensor *x = args->inputs[0];
    int64_t len = kc_tensor_dim(x, -1);
    kc_tensor *positions = kc_tensor_empty(KC_INT32, 1, &len, e);
    if (!positions) return e->code;
    for (int32_t i = 0; i < len; i++) ((int32_t *)kc_tensor_data(positions))[i] = i;
    kc_scope *s = kc_scope_new(e);
    kc_tensor *words = kc_s_layer_call1(s, t->token_emb, x, args->training);     /* (batch, len, embed_dim) */
    kc_tensor *where = kc_s_layer_call1(s, t->pos_emb, positions, args->training); /* (len, embed_dim) */
    out[0] = kc_scope_return(s, kc_s_add(s, words, where));
    kc_tensor_unref(positions);
    return out[0] ? KC_OK : e->code;
}

static kc_status tpe_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out, int *n_out,
                                  kc_error *e)
{
    (void)n_in;
    const token_and_position_embedding *t = (const token_and_position_embedding *)self;
    if (in[0].dims[in[0].ndim - 1] > t->maxlen)
        return kc_error_set(e, KC_ESHAPE, "sequences longer than maxlen %lld", (long long)t->maxlen);
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

/* TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim): from_config reads the arguments */
typedef struct tpe_args {
    KC_LAYER_ARGS;
    int64_t maxlen, vocab_size, embed_dim;
} tpe_args;
static const kc_arg_field tpe_fields[] = {KC_ARG_LAYER(tpe_args), KC_ARG(tpe_args, maxlen),
                                          KC_ARG(tpe_args, vocab_size), KC_ARG(tpe_args, embed_dim)};
static kc_object *token_and_position_embedding_new(const tpe_args *args, kc_error *e)
{
    return kc_object_from_args(&tpe_class, tpe_fields, KC_ARRAY_SIZE(tpe_fields), args, e);
}

/* ---- the model ---------------------------------------------------------------------------------- */

/* mha(x, x): query and value positional, recorded as Keras 2 writes it */
static kc_symbol *attention(kc_object *mha, kc_symbol *x)
{
    kc_symbol *out[2];
    int n = 0;
    TRY(kc_apply_kw(NN(mha), (kc_symbol *[]){x, x}, NULL, 2, NULL, out, &n, &err));
    kc_object_unref(mha);
    return out[0];
}
#define APPLY(layer, ...) NN(kc_apply_take((layer), (kc_symbol *[]){__VA_ARGS__}, \
                                           (int)(sizeof((kc_symbol *[]){__VA_ARGS__}) / sizeof(kc_symbol *)), &err))
#define DROPOUT(r) kc_layers_dropout(&(kc_layers_dropout_args){.rate = (r)}, &err)

static kc_object *build_model(void)
{
    enum { MAXLEN = 32, VOCAB = 136, EMBED = 32 };
    kc_symbol *in = NN(kc_input(1, (int64_t[]){MAXLEN}, "tokens", &err));
    kc_symbol *x = APPLY(token_and_position_embedding_new(
                             &(tpe_args){.maxlen = MAXLEN, .vocab_size = VOCAB, .embed_dim = EMBED}, &err),
                         in);
    /* TransformerBlock(embed_dim=32, num_heads=2, ff_dim=32) */
    kc_symbol *att = attention(kc_layers_multi_head_attention(
                                   &(kc_layers_multi_head_attention_args){.num_heads = 2, .key_dim = EMBED}, &err),
                               x);
    kc_symbol *a1 = APPLY(DROPOUT(0.1), att);
    kc_symbol *r1 = APPLY(kc_layers_add(NULL, &err), x, a1);
    kc_symbol *o1 = APPLY(kc_layers_layer_normalization(&(kc_layers_layer_normalization_args){.epsilon = 1e-6}, &err),
                          r1);
    kc_symbol *f1 = APPLY(kc_layers_dense(&(kc_layers_dense_args){.units = 32, .activation = KC_NAME("relu")}, &err),
                          o1);
    kc_symbol *f2 = APPLY(kc_layers_dense(&(kc_layers_dense_args){.units = EMBED}, &err), f1);
    kc_symbol *f3 = APPLY(DROPOUT(0.1), f2);
    kc_symbol *r2 = APPLY(kc_layers_add(NULL, &err), o1, f3);
    kc_symbol *o2 = APPLY(kc_layers_layer_normalization(&(kc_layers_layer_normalization_args){.epsilon = 1e-6}, &err),
                          r2);
    /* the classifier head */
    kc_symbol *g = APPLY(kc_layers_global_average_pooling1d(NULL, &err), o2);
    kc_symbol *h1 = APPLY(DROPOUT(0.1), g);
    kc_symbol *h2 = APPLY(kc_layers_dense(&(kc_layers_dense_args){.units = 20, .activation = KC_NAME("relu")}, &err),
                          h1);
    kc_symbol *h3 = APPLY(DROPOUT(0.1), h2);
    kc_symbol *out = APPLY(
        kc_layers_dense(&(kc_layers_dense_args){.units = 10, .activation = KC_NAME("softmax")}, &err), h3);
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
    kc_object *emb0 = kc_model_get_layer(model, "token_and_position_embedding");
    check(kc_layer_num_weights(emb0) == 2 &&
              !strcmp(kc_variable_name(kc_layer_weight(emb0, 0)), "token_and_position_embedding/embedding/embeddings:0"),
          "the embeddings' tables are the layer's weights, named as in Keras");
    kc_tensor *p1, *p2, *p3;
    int n;
    TRY(kc_model_predict(model, &tte, 1, 64, &p1, &n, &err));
    TRY(kc_model_predict(loaded, &tte, 1, 64, &p2, &n, &err));
    check(memcmp(kc_tensor_cdata(p1), kc_tensor_cdata(p2), kc_tensor_nbytes(p1)) == 0,
          "the reloaded model predicts the same, bit for bit");
    /* the same as a Keras 3 archive (the embeddings under token_emb, pos_emb) */
    snprintf(path, sizeof path, "%s/text_transformer.keras", argv[2]);
    TRY(kc_model_save(model, path, NULL, &err));
    kc_object *loaded3 = NN(kc_model_load(path, &opts, &err));
    TRY(kc_model_predict(loaded3, &tte, 1, 64, &p3, &n, &err));
    check(memcmp(kc_tensor_cdata(p1), kc_tensor_cdata(p3), kc_tensor_nbytes(p1)) == 0,
          "the .keras archive reloads with the same predictions");
    kc_tensor_unref(p3);
    kc_object_unref(loaded3);
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
