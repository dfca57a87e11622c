/* modelinspect graph: the architecture as Graphviz DOT, like Keras'
 * plot_model (model_to_dot with show_shapes and expand_nested): one record
 * node per layer, "name|ClassName" and, when the model loads, its input and
 * output shapes; edges from inbound_nodes; nested models as clusters whose
 * inputs and outputs connect to the outer graph. The graph comes from
 * model_config alone, so files whose classes are unknown draw too (without
 * shapes). */
#include "arch.h"
#include "inspect.h"

#include <string.h>

static int run_graph(int argc, char **argv);

const inspect_command cmd_graph = {
    .name = "graph",
    .synopsis = "graph FILE [--custom-lib LIB.so]... [--json]",
    .help = "Print the architecture in model_config as a Graphviz DOT digraph, as Keras'\n"
            "plot_model(show_shapes=True, expand_nested=True) draws it:\n"
            "    modelinspect graph model.h5 | dot -Tsvg > model.svg\n"
            "A record node per layer (\"name|ClassName\", and \"input:|output:\" shapes when\n"
            "the model loads), an edge per tensor a layer consumes, nested models as\n"
            "clusters. Works without the model's classes (then without shapes).\n\n"
            "  --custom-lib LIB.so  register custom classes first (see verify --help)\n"
            "  --json               {\"nodes\": [{\"id\", \"name\", \"class_name\", \"cluster\",\n"
            "                       \"input_shape\", \"output_shape\"}], \"edges\": [{\"from\", \"to\"}]}\n\n"
            "Exit 0, or 2 when the file cannot be read or has no model_config.\n",
    .run = run_graph,
};

typedef struct graph_out {
    bool as_json;
    json_t *nodes, *edges;
} graph_out;

/* A DOT id or record text: quotes and backslashes escaped; in records
 * also the characters that structure them. */
static void escaped(const char *s, bool record)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\' || (record && strchr("{}|<>", *s))) putchar('\\');
        putchar(*s);
    }
}

static void node_id(const char *prefix, const char *name, char *buf, size_t size)
{
    inspect_format(buf, size, "%s%s%s", prefix, prefix[0] ? "/" : "", name);
}

/* The node a tensor enters nested layer l by (entering: its index-th
 * input) or leaves it by (its output `index`): the nested model's input or
 * output layer, itself perhaps nested. Other layers are their own node. */
static void endpoint_id(const arch_layer *l, const char *prefix, int index, bool entering, char *buf, size_t size)
{
    const arch_model *in = l->inner;
    char inner_prefix[1024];
    node_id(prefix, l->name, inner_prefix, sizeof inner_prefix);
    if (!in || in->n_layers == 0) {
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
    endpoint_id(end, inner_prefix, next, entering, buf, size);
}

/* Shapes of the first call's inputs, "(None, 4), (None, 2)"; false when unknown. */
static bool input_text(const arch_model *a, const arch_layer *l, char *buf, size_t size)
{
    if (l->n_nodes == 0) return false;
    const arch_node *n = &l->nodes[0];
    if (n->n_in == 0) return arch_shape_text(l, true, buf, size); /* an input: its own shape */
    buf[0] = '\0';
    for (int j = 0; j < n->n_in; j++) {
        const arch_node *sn = arch_source(a, &n->in[j]);
        if (!sn || !sn->shaped || n->in[j].tensor < 0 || n->in[j].tensor >= sn->n_out) return false;
        char one[256];
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", j ? ", " : "", kc_shape_format(&sn->out[n->in[j].tensor], one, sizeof one));
    }
    return true;
}

static void draw(const arch_model *a, const char *prefix, graph_out *g, int depth)
{
    for (int i = 0; i < a->n_layers; i++) {
        const arch_layer *l = &a->layers[i];
        char id[1024];
        node_id(prefix, l->name, id, sizeof id);
        if (l->inner) {
            if (g->as_json) {
                json_array_append_new(g->nodes, json_pack("{s:s, s:s, s:s, s:s?, s:b}", "id", id, "name", l->name, "class_name",
                                                          l->class_name, "cluster", prefix[0] ? prefix : NULL, "nested", 1));
            } else {
                printf("%*ssubgraph \"cluster_", 2 * depth + 2, "");
                escaped(id, false);
                printf("\" {\n%*slabel=\"", 2 * depth + 4, "");
                escaped(l->name, false);
                printf(" (");
                escaped(l->class_name, false);
                printf(")\";\n");
            }
            draw(l->inner, id, g, depth + 1);
            if (!g->as_json) printf("%*s}\n", 2 * depth + 2, "");
            continue;
        }
        char in[1024], out[1024];
        bool shaped = arch_shape_text(l, true, out, sizeof out) && input_text(a, l, in, sizeof in);
        if (g->as_json) {
            json_array_append_new(g->nodes, json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?}", "id", id, "name", l->name,
                                                      "class_name", l->class_name, "cluster", prefix[0] ? prefix : NULL,
                                                      "input_shape", shaped ? in : NULL, "output_shape", shaped ? out : NULL));
            continue;
        }
        printf("%*s\"", 2 * depth + 2, "");
        escaped(id, false);
        printf("\" [label=\"");
        if (shaped) putchar('{');
        putchar('{');
        escaped(l->name, true);
        putchar('|');
        escaped(l->class_name, true);
        putchar('}');
        if (shaped) {
            printf("|{input:|output:}|{{");
            escaped(in, true);
            printf("}|{");
            escaped(out, true);
            printf("}}}");
        }
        printf("\"];\n");
    }
    /* edges: every tensor each call consumes */
    for (int i = 0; i < a->n_layers; i++) {
        const arch_layer *l = &a->layers[i];
        for (int k = 0; k < l->n_nodes; k++)
            for (int j = 0; j < l->nodes[k].n_in; j++) {
                const arch_ref *r = &l->nodes[k].in[j];
                const arch_layer *src = arch_find(a, r->layer);
                if (!src) continue;
                char from[1024], to[1024];
                endpoint_id(src, prefix, r->tensor, false, from, sizeof from);
                endpoint_id(l, prefix, j, true, to, sizeof to);
                if (g->as_json) {
                    json_array_append_new(g->edges, json_pack("{s:s, s:s}", "from", from, "to", to));
                    continue;
                }
                printf("%*s\"", 2 * depth + 2, "");
                escaped(from, false);
                printf("\" -> \"");
                escaped(to, false);
                printf("\";\n");
            }
    }
}

static int run_graph(int argc, char **argv)
{
    const char *file = NULL;
    bool as_json = false;
    const inspect_opt opts[] = {
        {"--json", OPT_FLAG, &as_json},
        {"--custom-lib", OPT_PLUGIN, NULL},
    };
    int rc = inspect_parse(&cmd_graph, argc, argv, opts, 2, &file, 1, 1, "missing FILE");
    if (rc >= 0) return rc;
    kc_h5file *f = inspect_open(file);
    if (!f) return EXIT_INVALID;
    json_t *mc = NULL;
    arch_model *a = arch_load(f, &mc);
    rc = EXIT_INVALID;
    if (a) {
        /* shapes when the model loads; the graph does not need it */
        kc_load_options lo = {.no_compile = true};
        kc_error ignored = {0};
        kc_object *model = kc_model_load(file, &lo, &ignored);
        if (model) arch_infer_shapes(a, model);
        else arch_input_shapes_from_config(a);
        kc_object_unref(model);
        graph_out g = {.as_json = as_json};
        if (as_json) {
            g.nodes = json_array();
            g.edges = json_array();
            draw(a, "", &g, 0);
            rc = inspect_emit_json(json_pack("{s:s, s:s, s:o, s:o}", "name", a->name, "class_name", a->class_name,
                                             "nodes", g.nodes, "edges", g.edges));
        } else {
            printf("digraph \"");
            escaped(a->name, false);
            printf("\" {\n  rankdir=TB;\n  concentrate=true;\n  node [shape=record];\n");
            draw(a, "", &g, 0);
            printf("}\n");
            rc = EXIT_OK;
        }
    }
    arch_free(a);
    json_decref(mc);
    kc_h5file_close(f);
    return rc;
}
