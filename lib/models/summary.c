/* model.summary(): the table tf.keras 2.13-2.15 prints, as a string.
 *
 * Reproduced rule by rule from Keras' print_summary: a "sequential-like"
 * model (Sequential, subclassed, or a Functional chain with one node per
 * depth) gets 65 columns and three fields, others 98 columns and a
 * "Connected to" field; cells wrap at Keras' positions and break after
 * "),", "},", "],", "',"; each layer row is followed by a blank line; the
 * totals give parameter counts and their float32 sizes. */
#include "graph.h"

#include <string.h>

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (!kc__grow((void **)&b->p, &b->cap, b->n + n + 1, 1)) {
        b->oom = true;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}
static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }
static void repeat(sbuf *b, char c, int n)
{
    for (int i = 0; i < n; i++) put(b, &c, 1);
}

/* Keras' print_row with nested_level 0. */
static void print_row(sbuf *b, char **fields, int ncols, const int *pos)
{
    size_t left[8], off[8];
    for (int c = 0; c < ncols; c++) {
        left[c] = strlen(fields[c]);
        off[c] = 0;
    }
    static const char *const breaks[] = {"),", "},", "],", "',"};
    for (;;) {
        bool any = false;
        for (int c = 0; c < ncols; c++) any |= left[c] > 0;
        if (!any) break;
        char line[1024];
        int len = 0;
        for (int c = 0; c < ncols; c++) {
            int start = c > 0 ? pos[c - 1] : 0, end = pos[c];
            int space = c != ncols - 1 ? 2 : 0;
            int cutoff = end - start - space;
            if (c != ncols - 1) cutoff -= 1;
            if (cutoff < 0) cutoff = 0;
            const char *s = fields[c] + off[c];
            size_t fit = left[c] < (size_t)cutoff ? left[c] : (size_t)cutoff;
            size_t best = fit + 1;
            for (int k = 0; k < 4; k++) {
                for (size_t i = 0; i + 1 < fit; i++)
                    if (s[i] == breaks[k][0] && s[i + 1] == breaks[k][1]) {
                        if (i + 2 < best) best = i + 2;
                        break;
                    }
            }
            if (best <= fit) fit = best;
            if (c == 0 && len < (int)sizeof(line) - 1) line[len++] = ' ';
            for (size_t i = 0; i < fit && len < (int)sizeof(line) - 1; i++) line[len++] = s[i];
            for (int i = 0; i < space && len < (int)sizeof(line) - 1; i++) line[len++] = ' ';
            off[c] += fit;
            left[c] -= fit;
            while (len < end && len < (int)sizeof(line) - 1) line[len++] = ' ';
        }
        put(b, line, (size_t)len);
        put(b, "\n", 1);
    }
}

static void readable_size(double bytes, char *buf, size_t size)
{
    static const char *const units[] = {"Byte", "KB", "MB", "GB", "TB", "PB"};
    for (int i = 0; i < 6; i++) {
        if (bytes / 1024.0 < 1.0 || i == 5) {
            snprintf(buf, size, "%.2f %s", bytes, units[i]);
            return;
        }
        bytes /= 1024.0;
    }
}

/* Python's str() of a shape tuple, or of a list of them. */
static void shapes_text(const kc_shape *s, int n, bool as_list, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    if (as_list) used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && used < size; i++) {
        char one[200];
        kc_shape_format(&s[i], one, sizeof(one));
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", one);
    }
    if (as_list && used < size) snprintf(buf + used, size - used, "]");
}

/* A Sequential's layer output shapes, chained once from its input shape
 * (NULL when unknown: printed as "multiple"; a layer that fails prints "?"). */
static kc_shape *sequential_shapes(const kc_object *model, bool **ok)
{
    const kc__model_state *ms = kc__mstate(model);
    *ok = NULL;
    if (!ms->io_known) return NULL;
    kc_shape *out = kc__malloc_array((size_t)ms->n_layers + 1, sizeof(kc_shape));
    *ok = kc__calloc((size_t)ms->n_layers + 1, sizeof(bool));
    if (!out || !*ok) {
        kc__free(out);
        kc__free(*ok);
        *ok = NULL;
        return NULL;
    }
    kc_shape cur = ms->in_shapes[0];
    for (int i = 0; i < ms->n_layers; i++) {
        kc_shape o[KC_MAX_LAYER_OUTPUTS];
        int n;
        kc_error e = {0};
        if (kc__layer_output_shapes(ms->layers[i], &cur, 1, o, &n, &e) != KC_OK) break;
        out[i] = cur = o[0];
        (*ok)[i] = true;
    }
    return out;
}

/* A layer's output_shape inside a Functional model: its nodes' shapes when
 * they agree ("multiple" otherwise). */
static void output_shape_text(const kc_object *model, int li, char *buf, size_t size)
{
    const kc__model_state *ms = kc__mstate(model);
    const kc__graph *g = ms->graph;
    const int *pos = NULL;
    int n = g ? kc__graph_layer_nodes(g, ms->layers[li], &pos) : 0;
    if (n == 0) {
        snprintf(buf, size, "multiple"); /* subclassed models: eager calls leave no nodes */
        return;
    }
    const kc__gnode *first = g->nodes[pos[0]];
    for (int k = 1; k < n; k++) {
        const kc__gnode *node = g->nodes[pos[k]];
        bool same = node->n_outputs == first->n_outputs;
        for (int t = 0; same && t < node->n_outputs; t++)
            same = kc_shape_equal(&node->out_shapes[t], &first->out_shapes[t]);
        if (!same) {
            snprintf(buf, size, "multiple");
            return;
        }
    }
    /* InputLayer outputs print as a list, as in tf.keras */
    bool as_list = first->n_outputs > 1 || first->n_inputs == 0;
    shapes_text(first->out_shapes, first->n_outputs, as_list, buf, size);
}

/* Keras' print_layer_summary_with_connections: the layer's nodes in this
 * model in call order, each input as name[node][tensor]. */
static void connections_text(const kc_object *model, int li, char *buf, size_t size)
{
    const kc__graph *g = kc__mstate(model)->graph;
    const int *pos = NULL;
    int n = kc__graph_layer_nodes(g, kc__mstate(model)->layers[li], &pos);
    size_t used = (size_t)snprintf(buf, size, "[");
    bool firstc = true;
    for (int k = 0; k < n && used < size; k++) {
        const kc__gnode *node = g->nodes[pos[k]];
        for (int j = 0; j < node->n_inputs && used < size; j++) {
            const kc_symbol *s = node->inputs[j];
            used += (size_t)snprintf(buf + used, size - used, "%s'%s[%d][%d]'", firstc ? "" : ", ",
                                     kc_layer_name(s->node->layer), s->node->index_in_layer,
                                     s->tensor_index);
            firstc = false;
        }
    }
    if (used < size) snprintf(buf + used, size - used, "]");
}

char *kc_model_summary(const kc_object *model, kc_error *err)
{
    if (!kc_is_model(model)) {
        kc__errf(err, KC_EINVAL, "kc_model_summary: not a model");
        return NULL;
    }
    const kc__model_state *ms = kc__mstate(model);
    bool seq_like =
        !kc__is_functional(model) || (ms->graph && kc__graph_sequential_like(ms->graph));
    int L = seq_like ? 65 : 98;
    int pos[4];
    int ncols = seq_like ? 3 : 4;
    if (seq_like) {
        pos[0] = (int)(L * 0.45), pos[1] = (int)(L * 0.85), pos[2] = L;
    } else {
        pos[0] = (int)(L * 0.3), pos[1] = (int)(L * 0.6), pos[2] = (int)(L * 0.70), pos[3] = L;
    }
    sbuf b = {0};
    char line[512];
    snprintf(line, sizeof(line), "Model: \"%s\"\n", kc_layer_name(model));
    puts_(&b, line);
    repeat(&b, '_', L);
    puts_(&b, "\n");
    char *header[4] = {"Layer (type)", "Output Shape", "Param #", "Connected to"};
    print_row(&b, header, ncols, pos);
    repeat(&b, '=', L);
    puts_(&b, "\n");
    bool *seq_ok = NULL;
    kc_shape *seq_shapes = kc__is_sequential(model) ? sequential_shapes(model, &seq_ok) : NULL;
    for (int i = 0; i < ms->n_layers; i++) {
        const kc_object *layer = ms->layers[i];
        char name[300], shape[600], params[64], conn[2048];
        const char *cls = layer->cls->name, *gt = strrchr(cls, '>');
        snprintf(name, sizeof(name), "%s (%s)", kc_layer_name(layer), gt ? gt + 1 : cls);
        if (!kc__is_sequential(model))
            output_shape_text(model, i, shape, sizeof(shape));
        else if (!seq_shapes)
            snprintf(shape, sizeof(shape), "multiple");
        else if (!seq_ok[i])
            snprintf(shape, sizeof(shape), "?");
        else
            shapes_text(&seq_shapes[i], 1, false, shape, sizeof(shape));
        if (seq_like && !kc__as_layer(layer)->built)
            snprintf(params, sizeof(params), "0 (unused)");
        else
            snprintf(params, sizeof(params), "%lld", (long long)kc_layer_count_params(layer));
        if (!seq_like) connections_text(model, i, conn, sizeof(conn));
        char *fields[4] = {name, shape, params, conn};
        print_row(&b, fields, ncols, pos);
        repeat(&b, ' ', L);
        puts_(&b, "\n");
    }
    kc__free(seq_shapes);
    kc__free(seq_ok);
    repeat(&b, '=', L);
    puts_(&b, "\n");
    int64_t tr = 0, ntr = 0;
    for (int i = 0; i < kc_layer_num_trainable_weights(model); i++)
        tr += kc_tensor_size(kc_variable_value(kc_layer_trainable_weight(model, i)));
    for (int i = 0; i < kc_layer_num_non_trainable_weights(model); i++)
        ntr += kc_tensor_size(kc_variable_value(kc_layer_non_trainable_weight(model, i)));
    char s1[64], s2[64], s3[64];
    readable_size(4.0 * (double)(tr + ntr), s1, sizeof(s1));
    readable_size(4.0 * (double)tr, s2, sizeof(s2));
    readable_size(4.0 * (double)ntr, s3, sizeof(s3));
    snprintf(
        line, sizeof(line),
        "Total params: %lld (%s)\nTrainable params: %lld (%s)\nNon-trainable params: %lld (%s)\n",
        (long long)(tr + ntr), s1, (long long)tr, s2, (long long)ntr, s3);
    puts_(&b, line);
    repeat(&b, '_', L);
    puts_(&b, "\n");
    if (b.oom || !b.p) {
        kc__free(b.p);
        kc__errf(err, KC_ENOMEM, "out of memory writing a summary");
        return NULL;
    }
    return b.p;
}
