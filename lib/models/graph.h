/* ckeras private: the graph of a Functional model (graph.c maps it from
 * symbols; functional.c runs it and writes it into a config; summary.c
 * prints it). */
#ifndef CKERAS_MODELS_GRAPH_H
#define CKERAS_MODELS_GRAPH_H

#include "../core/idmap.h"
#include "models_int.h"

struct kc__graph {
    kc__gnode **nodes; /* execution order, owned references */
    int n_nodes;
    int *in_start;        /* node p's inputs: src_pos/src_t[in_start[p] .. in_start[p + 1]) */
    int *src_pos, *src_t; /* producing node and its output index, per node input */
    int *depth;           /* Keras' node depth: outputs 0, inputs deepest */
    int *model_index;     /* node index renumbered within the model */
    int *uses;            /* consumers of (p, t), at p * KC_MAX_LAYER_OUTPUTS + t */
    kc__idmap pos_of;     /* node address -> position + 1 */
    /* each layer's nodes in model_index order (group g: by_layer[group_start[g] ..
     * group_start[g + 1])); group_of: layer address -> g + 1 */
    int *group_start, *by_layer;
    int n_groups;
    kc__idmap group_of;
    kc_symbol **inputs, **outputs; /* owned */
    int n_inputs, n_outputs;
    int *input_pos, *output_pos, *output_t;
};

/* Map the graph from input to output symbols as Keras' _map_graph_network
 * does. On success *out is the graph and layers[0 .. *n_layers) receives
 * model.layers (borrowed; the graph's nodes hold them), to be freed with
 * kc__free. Linear in nodes + node inputs, plus n log n sorts. */
kc_status kc__graph_map(kc_symbol *const *inputs, int n_in, kc_symbol *const *outputs, int n_out,
                        kc__graph **out, kc_object ***layers, int *n_layers, kc_error *err);

/* Positions of layer's nodes in g, in model_index order (count returned;
 * 0 when the layer has no node in g). */
int kc__graph_layer_nodes(const kc__graph *g, const kc_object *layer, const int **pos);

#endif /* CKERAS_MODELS_GRAPH_H */
