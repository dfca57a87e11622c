/* modelinspect graph: the architecture as Keras' plot_model draws it
 * (keras/src/utils/model_visualization.py): Graphviz DOT text, or a picture
 * rendered from that same text by Graphviz' library (picture.h). One node
 * per layer, an HTML-like table: a black title "name (ClassName)" and white
 * cells for the input and output shapes and the output dtype, each shown
 * when its switch is given, as Keras' show_* arguments; edges from
 * inbound_nodes; with --expand-nested, nested models as dashed clusters
 * whose inputs and outputs connect to the outer graph. The graph comes from
 * model_config alone, so files whose classes are unknown draw too (shapes
 * then only for the inputs). */
#define _POSIX_C_SOURCE 200809L /* open_memstream, strdup */
#include "arch.h"
#include "inspect.h"
#include "picture.h"

#include <stdlib.h>
#include <string.h>

static int run_graph(int argc, char **argv);

const inspect_command cmd_graph = {
    .name = "graph",
    .synopsis = "graph FILE [--format dot|svg|png|pdf] [-o OUT] [--show-...] [--expand-nested] [--rankdir D] "
                "[--dpi N] [--custom-lib LIB.so]... [--json]",
    .help = "Draw the architecture in model_config as Keras' plot_model does: Graphviz DOT\n"
            "text by default, or a picture rendered with Graphviz' library:\n"
            "    modelinspect graph model.h5 --show-shapes -o model.png\n"
            "A node per layer (its class, and what the switches add), an edge per tensor\n"
            "a layer consumes. Works without the model's classes (shapes then only for\n"
            "the inputs).\n\n"
            "  --format F           dot (default), svg, png or pdf; without it, the\n"
            "                       extension of OUT decides (.svg, .png, .pdf)\n"
            "  -o, --output OUT     write to OUT (default: standard output)\n"
            "  --show-shapes        input and output shapes (when the model loads)\n"
            "  --show-dtype         each layer's output dtype\n"
            "  --show-layer-names   \"name (ClassName)\" instead of the class alone\n"
            "  --show-layer-activations  the activation of layers that have one\n"
            "  --expand-nested      nested models as clusters of their layers\n"
            "  --rankdir D          TB (top to bottom, default) or LR, BT, RL\n"
            "  --dpi N              dots per inch (default 200, as Keras): the size of\n"
            "                       a PNG; SVG and PDF are scaled alike\n"
            "  --custom-lib LIB.so  register custom classes first (see verify --help)\n"
            "  --json               {\"nodes\": [{\"id\", \"name\", \"class_name\", \"cluster\",\n"
            "                       \"input_shape\", \"output_shape\"}], \"edges\": [{\"from\", \"to\"}]}\n"
            "                       (every layer, nested ones too; not with --format)\n\n"
            "Exit 0, 2 when the file cannot be read or has no model_config or the picture\n"
            "cannot be drawn (also in builds without Graphviz), 64 on usage errors.\n",
    .run = run_graph,
    .isolation = ISOLATE_ITSELF,
};

/* Keras' plot_model switches. */
typedef struct graph_style {
    bool shapes, dtype, names, activations, expand;
    const char *rankdir;
    double dpi;
} graph_style;

typedef struct graph_out {
    bool as_json;
    json_t *nodes, *edges;
    FILE *f;
    const graph_style *style;
} graph_out;

/* A DOT quoted string: quotes and backslashes escaped. */
static void quoted(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
}

/* Text inside an HTML-like label: the markup characters as entities. */
static void html(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void node_id(const char *prefix, const char *name, char *buf, size_t size)
{
    inspect_format(buf, size, "%s%s%s", prefix, prefix[0] ? "/" : "", name);
}

/* The node a tensor enters nested layer l by (entering: its index-th
 * input) or leaves it by (its output `index`): with expand, the nested
 * model's input or output layer, itself perhaps nested. Other layers, and
 * every layer without expand, are their own node. */
static void endpoint_id(const arch_layer *l, const char *prefix, int index, bool entering, bool expand, char *buf,
                        size_t size)
{
    const arch_model *in = l->inner;
    char inner_prefix[1024];
    node_id(prefix, l->name, inner_prefix, sizeof inner_prefix);
    if (!expand || !in || in->n_layers == 0) {
        inspect_format(buf, size, "%s", inner_prefix);
        return;
    }
    const arch_ref *refs = entering ? in->inputs : in->outputs;
    int n = entering ? in->n_inputs : in->n_outputs, next = 0;
    const arch_layer *end = entering ? &in->layers[0] : &in->layers[in->n_layers - 1];
    const arch_layer *named = !in->sequential && index < n ? arch_find(in, refs[index].layer) : NULL;
    if (named) {
        end = named;
        next = entering ? 0 : refs[index].tensor;
    }
    endpoint_id(end, inner_prefix, next, entering, expand, buf, size);
}

/* Shapes as Keras 3 prints a structure of them: "(None, 4)" for one,
 * "[(None, 4), (None, 2)]" for several. */
static void shape_list(const kc_shape *const *shapes, int n, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s", n > 1 ? "[" : "");
    for (int j = 0; j < n && used < size; j++) {
        char one[256];
        used += (size_t)snprintf(buf + used, size - used, "%s%s", j ? ", " : "", kc_shape_format(shapes[j], one, sizeof one));
    }
    if (n > 1 && used < size) snprintf(buf + used, size - used, "]");
}

/* Shapes of the first call's inputs, "(None, 4), (None, 2)" (plain: the
 * text of --json) or as shape_list; false when unknown. */
static bool input_text(const arch_model *a, const arch_layer *l, bool plain, char *buf, size_t size)
{
    if (l->n_nodes == 0) return false;
    const arch_node *n = &l->nodes[0];
    if (n->n_in == 0) return arch_shape_text(l, true, buf, size); /* an input: its own shape */
    const kc_shape *shapes[KC_MAX_LAYER_OUTPUTS];
    if (n->n_in > KC_MAX_LAYER_OUTPUTS) return false;
    for (int j = 0; j < n->n_in; j++) {
        const arch_node *sn = arch_source(a, &n->in[j]);
        if (!sn || !sn->shaped || n->in[j].tensor < 0 || n->in[j].tensor >= sn->n_out) return false;
        shapes[j] = &sn->out[n->in[j].tensor];
    }
    if (!plain) {
        shape_list(shapes, n->n_in, buf, size);
        return true;
    }
    buf[0] = '\0';
    for (int j = 0; j < n->n_in; j++) {
        char one[256];
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", j ? ", " : "", kc_shape_format(shapes[j], one, sizeof one));
    }
    return true;
}

/* The output shapes as shape_list, "multiple" when calls differ; false when unknown. */
static bool output_text(const arch_layer *l, char *buf, size_t size)
{
    char plain[1024];
    if (!arch_shape_text(l, true, plain, sizeof plain)) return false;
    const arch_node *n = &l->nodes[0];
    if (strcmp(plain, "multiple") == 0 || n->n_out > KC_MAX_LAYER_OUTPUTS) {
        inspect_format(buf, size, "%s", plain);
        return true;
    }
    const kc_shape *shapes[KC_MAX_LAYER_OUTPUTS];
    for (int t = 0; t < n->n_out; t++) shapes[t] = &n->out[t];
    shape_list(shapes, n->n_out, buf, size);
    return true;
}

/* The dtype a layer computes in, from its config: a name ("float32") or a
 * Keras 3 DTypePolicy whose mixed_* policies compute in the half type. */
static const char *layer_dtype(const arch_layer *l)
{
    const json_t *d = json_object_get(l->config, "dtype");
    if (json_is_object(d)) d = json_object_get(json_object_get(d, "config"), "name");
    const char *name = json_string_value(d);
    if (!name) return "?";
    if (strcmp(name, "mixed_float16") == 0) return "float16";
    if (strcmp(name, "mixed_bfloat16") == 0) return "bfloat16";
    return name;
}

/* The activation's name: a string, or a serialized object's class. */
static const char *layer_activation(const arch_layer *l)
{
    const json_t *act = json_object_get(l->config, "activation");
    if (json_is_object(act)) {
        const json_t *reg = json_object_get(act, "registered_name");
        act = json_is_string(reg) ? reg : json_object_get(act, "class_name");
    }
    return json_string_value(act);
}

/* One node, as keras/src/utils/model_visualization.py's make_layer_label
 * builds it (its cells spanning the actual row below the title). */
static void draw_node(const arch_model *a, const arch_layer *l, const char *id, int depth, graph_out *g)
{
    const graph_style *st = g->style;
    char in[1024] = "?", out[1024] = "?";
    bool shaped = output_text(l, out, sizeof out);
    if (!input_text(a, l, false, in, sizeof in)) inspect_format(in, sizeof in, "?");
    if (!shaped) inspect_format(out, sizeof out, "?");
    bool input_cell = st->shapes && !arch_is_input(l);
    int cells = (input_cell ? 1 : 0) + (st->shapes ? 1 : 0) + (st->dtype ? 1 : 0);
    const char *activation = st->activations ? layer_activation(l) : NULL;
    FILE *f = g->f;
    fprintf(f, "%*s\"", 2 * depth + 2, "");
    quoted(f, id);
    fprintf(f, "\" [label=<<table border=\"0\" cellborder=\"1\" bgcolor=\"black\" cellpadding=\"10\">"
               "<tr><td colspan=\"%d\" bgcolor=\"black\"><font point-size=\"16\" color=\"white\"><b>",
            cells > 1 ? cells : 1);
    html(f, st->names ? l->name : l->class_name);
    fputs("</b>", f);
    if (st->names) {
        fputs(" (", f);
        html(f, l->class_name);
        fputc(')', f);
    }
    fputs("</font></td></tr>", f);
    if (activation) {
        fprintf(f, "<tr><td bgcolor=\"white\" colspan=\"%d\"><font point-size=\"14\">Activation: <b>", cells > 1 ? cells : 1);
        html(f, activation);
        fputs("</b></font></td></tr>", f);
    }
    if (cells > 0) {
        fputs("<tr>", f);
        if (input_cell) {
            fputs("<td bgcolor=\"white\"><font point-size=\"14\">Input shape: <b>", f);
            html(f, in);
            fputs("</b></font></td>", f);
        }
        if (st->shapes) {
            fputs("<td bgcolor=\"white\"><font point-size=\"14\">Output shape: <b>", f);
            html(f, out);
            fputs("</b></font></td>", f);
        }
        if (st->dtype) {
            fputs("<td bgcolor=\"white\"><font point-size=\"14\">Output dtype: <b>", f);
            html(f, layer_dtype(l));
            fputs("</b></font></td>", f);
        }
        fputs("</tr>", f);
    }
    fputs("</table>>];\n", f);
}

static void draw_json_node(const arch_model *a, const arch_layer *l, const char *id, const char *prefix, graph_out *g)
{
    if (l->inner) {
        json_array_append_new(g->nodes, json_pack("{s:s, s:s, s:s, s:s?, s:b}", "id", id, "name", l->name, "class_name",
                                                  l->class_name, "cluster", prefix[0] ? prefix : NULL, "nested", 1));
        return;
    }
    char in[1024], out[1024];
    bool shaped = arch_shape_text(l, true, out, sizeof out) && input_text(a, l, true, in, sizeof in);
    json_array_append_new(g->nodes, json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?}", "id", id, "name", l->name,
                                              "class_name", l->class_name, "cluster", prefix[0] ? prefix : NULL,
                                              "input_shape", shaped ? in : NULL, "output_shape", shaped ? out : NULL));
}

static void draw_edge(const char *from, const char *to, int depth, graph_out *g)
{
    if (g->as_json) {
        json_array_append_new(g->edges, json_pack("{s:s, s:s}", "from", from, "to", to));
        return;
    }
    fprintf(g->f, "%*s\"", 2 * depth + 2, "");
    quoted(g->f, from);
    fputs("\" -> \"", g->f);
    quoted(g->f, to);
    fputs("\";\n", g->f);
}

static void draw(const arch_model *a, const char *prefix, graph_out *g, int depth)
{
    /* JSON lists every layer, nested ones too, whatever the switches */
    bool expand = g->as_json || g->style->expand;
    for (int i = 0; i < a->n_layers; i++) {
        const arch_layer *l = &a->layers[i];
        char id[1024];
        node_id(prefix, l->name, id, sizeof id);
        if (g->as_json) draw_json_node(a, l, id, prefix, g);
        if (l->inner && expand) {
            if (!g->as_json) {
                fprintf(g->f, "%*ssubgraph \"cluster_", 2 * depth + 2, "");
                quoted(g->f, id);
                fprintf(g->f, "\" {\n%*sstyle=dashed;\n%*slabel=\"", 2 * depth + 4, "", 2 * depth + 4, "");
                quoted(g->f, l->name);
                fprintf(g->f, "\";\n%*slabeljust=l;\n", 2 * depth + 4, "");
            }
            draw(l->inner, id, g, depth + 1);
            if (!g->as_json) fprintf(g->f, "%*s}\n", 2 * depth + 2, "");
        } else if (!g->as_json) {
            draw_node(a, l, id, depth, g);
        }
    }
    /* edges: every tensor each call consumes; in DOT each pair of nodes
     * once, as Keras' add_edge (a shared layer called twice on the same
     * input, or the two calls of a nested model, give one arrow) */
    char **seen = NULL;
    size_t n_seen = 0;
    for (int i = 0; i < a->n_layers; i++) {
        const arch_layer *l = &a->layers[i];
        for (int k = 0; k < l->n_nodes; k++)
            for (int j = 0; j < l->nodes[k].n_in; j++) {
                const arch_ref *r = &l->nodes[k].in[j];
                const arch_layer *src = arch_find(a, r->layer);
                if (!src) continue;
                char from[1024], to[1024], pair[2048];
                endpoint_id(src, prefix, r->tensor, false, expand, from, sizeof from);
                endpoint_id(l, prefix, j, true, expand, to, sizeof to);
                if (!g->as_json) {
                    inspect_format(pair, sizeof pair, "%s\n%s", from, to);
                    bool again = false;
                    for (size_t e = 0; e < n_seen && !again; e++) again = strcmp(seen[e], pair) == 0;
                    if (again) continue;
                    char **grown = realloc(seen, (n_seen + 1) * sizeof(*seen));
                    if (grown && (grown[n_seen] = strdup(pair))) n_seen++;
                    if (grown) seen = grown;
                }
                draw_edge(from, to, depth, g);
            }
    }
    for (size_t e = 0; e < n_seen; e++) free(seen[e]);
    free(seen);
}

/* The DOT digraph, with the graph attributes Keras' model_to_dot sets. A
 * subclassed model (no layer list) is one node, as in Keras. */
static void write_dot(const arch_model *a, graph_out *g)
{
    FILE *f = g->f;
    fputs("digraph \"", f);
    quoted(f, a->name);
    fprintf(f, "\" {\n  rankdir=%s;\n  concentrate=true;\n  dpi=%g;\n  splines=ortho;\n"
               "  node [shape=record, fontname=\"Helvetica\", margin=0];\n  edge [penwidth=2];\n",
            g->style->rankdir, g->style->dpi);
    if (a->listed) {
        draw(a, "", g, 0);
    } else {
        arch_layer self = {.name = a->name, .class_name = a->class_name};
        draw_node(a, &self, a->name, 0, g);
    }
    fputs("}\n", f);
}

/* Write DOT text (n bytes) to out as text, or drawn in format. */
static int emit_dot(const char *dot, size_t n, picture_format format, const char *out)
{
    if (format != PICTURE_TEXT && !graph_render_available())
        return inspect_fail(EXIT_INVALID,
                            "this modelinspect was built without Graphviz (libgraphviz-dev), so it cannot draw "
                            "--format %s; print DOT instead and render it with dot(1): "
                            "modelinspect graph FILE | dot -T%s -o OUT",
                            picture_format_name(format), picture_format_name(format));
    picture_out o;
    int rc = picture_out_open(&o, &cmd_graph, out, format);
    if (rc >= 0) return rc;
    if (format == PICTURE_TEXT) rc = fwrite(dot, 1, n, o.f) == n ? EXIT_OK : inspect_fail(EXIT_INVALID, "cannot write the graph");
    else rc = graph_render(dot, format, o.f);
    if (rc != EXIT_OK) {
        picture_out_abort(&o);
        return rc;
    }
    return picture_out_commit(&o);
}

/* What the reading half of graph needs. */
typedef struct graph_job {
    const char *file;
    const graph_style *style;
    bool as_json;
    FILE *out; /* where the DOT text goes */
} graph_job;

/* Read the file and write its graph: DOT to job->out, or JSON to standard
 * output. Runs in the sandbox unless --trusted: the file is parsed there,
 * and only the text comes back. */
static int read_graph(void *ctx)
{
    const graph_job *job = ctx;
    kc_h5file *f = inspect_open(job->file);
    if (!f) return EXIT_INVALID;
    json_t *mc = NULL;
    arch_model *a = arch_load(f, &mc);
    int rc = EXIT_INVALID;
    if (a) {
        /* shapes when the model loads; the graph does not need it */
        kc_load_options lo = {.no_compile = true};
        kc_error ignored = {0};
        kc_object *model = kc_model_load(job->file, &lo, &ignored);
        if (model) arch_infer_shapes(a, model);
        else arch_input_shapes_from_config(a);
        kc_object_unref(model);
        if (job->as_json) {
            graph_out g = {.as_json = true, .style = job->style, .nodes = json_array(), .edges = json_array()};
            draw(a, "", &g, 0);
            rc = inspect_emit_json(json_pack("{s:s, s:s, s:o, s:o}", "name", a->name, "class_name", a->class_name,
                                             "nodes", g.nodes, "edges", g.edges));
        } else {
            graph_out g = {.f = job->out, .style = job->style};
            write_dot(a, &g);
            rc = fflush(job->out) == 0 ? EXIT_OK : inspect_fail(EXIT_INVALID, "cannot write the graph");
        }
    }
    arch_free(a);
    json_decref(mc);
    kc_h5file_close(f);
    return rc;
}

static int run_graph(int argc, char **argv)
{
    const char *file = NULL, *format_name = NULL, *out = NULL;
    bool as_json = false;
    graph_style style = {.rankdir = NULL, .dpi = 200};
    const inspect_opt opts[] = {
        {"--json", OPT_FLAG, &as_json},
        {"--custom-lib", OPT_PLUGIN, NULL},
        {"--format", OPT_STRING, &format_name},
        {"-o", OPT_STRING, &out},
        {"--output", OPT_STRING, &out},
        {"--show-shapes", OPT_FLAG, &style.shapes},
        {"--show-dtype", OPT_FLAG, &style.dtype},
        {"--show-layer-names", OPT_FLAG, &style.names},
        {"--show-layer-activations", OPT_FLAG, &style.activations},
        {"--expand-nested", OPT_FLAG, &style.expand},
        {"--rankdir", OPT_STRING, &style.rankdir},
        {"--dpi", OPT_NUMBER, &style.dpi},
    };
    int rc = inspect_parse(&cmd_graph, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), &file, 1, 1, "missing FILE");
    if (rc >= 0) return rc;
    picture_format format;
    rc = picture_choose_format(&cmd_graph, format_name, out, "dot", ".dot", &format);
    if (rc >= 0) return rc;
    if (as_json && (format != PICTURE_TEXT || out)) return inspect_usage(&cmd_graph, "--json prints to standard output; not with --format or -o");
    if (!style.rankdir) style.rankdir = "TB";
    if (strcmp(style.rankdir, "TB") != 0 && strcmp(style.rankdir, "LR") != 0 && strcmp(style.rankdir, "BT") != 0 &&
        strcmp(style.rankdir, "RL") != 0)
        return inspect_usage(&cmd_graph, "--rankdir must be TB, LR, BT or RL, not '%s'", style.rankdir);
    if (style.dpi < 10 || style.dpi > 1200) return inspect_usage(&cmd_graph, "--dpi must be between 10 and 1200");
    graph_job job = {.file = file, .style = &style, .as_json = as_json, .out = stdout};
    const char *files[2] = {file, NULL};
    if (as_json || (format == PICTURE_TEXT && !out)) /* straight to standard output */
        return inspect_trusted ? read_graph(&job) : inspect_isolated(read_graph, &job, files, NULL, NULL);
    /* drawn or written to OUT here, from the DOT text the reading gave */
    char *dot = NULL;
    size_t n = 0;
    if (inspect_trusted) {
        job.out = open_memstream(&dot, &n);
        if (!job.out) return inspect_fail(EXIT_INVALID, "out of memory");
        rc = read_graph(&job);
        fclose(job.out);
    } else {
        rc = inspect_isolated(read_graph, &job, files, &dot, &n);
    }
    if (rc == EXIT_OK) rc = emit_dot(dot, n, format, out);
    free(dot);
    return rc;
}
