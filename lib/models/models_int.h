/* ckeras private: model internals shared by lib/models files. */
#ifndef CKERAS_MODELS_INT_H
#define CKERAS_MODELS_INT_H

#include "../core/idmap.h"
#include "../layers/layers_int.h"

#define KC__MAX_MODEL_IO 64

/* A call of a layer on symbols (Keras' Node). Nodes own their layer and
 * input symbols, never their outputs, so graphs have no reference cycles. */
typedef struct kc__gnode {
    long refcount;
    kc_object *layer;    /* owned reference */
    kc_symbol **inputs;  /* owned references */
    int n_inputs;
    int n_outputs;
    kc_shape out_shapes[KC_MAX_LAYER_OUTPUTS];
    int index_in_layer;  /* the k-th call of its layer (Keras' node index) */
    /* keyword arguments of the call (node_args.c): the argument each input
     * is bound to (NULL entries: positional), and the non-tensor
     * ones; both NULL for a plain call */
    char **arg_names;    /* owned, n_inputs entries, or NULL */
    json_t *options;     /* owned, or NULL */
    struct kc__gnode *next_dead; /* while being freed: the list of nodes to free */
} kc__gnode;

struct kc_symbol {
    long refcount;
    kc__gnode *node; /* owned reference */
    int tensor_index;
    kc_shape shape;
};

void kc__gnode_unref(kc__gnode *n);

/* ---- the arguments of a node (node_args.c) ---- */

/* kc_apply with keyword arguments (kw may be NULL); the node records the
 * binding a class reports (kc__call_bind), so positional inputs after the
 * first are saved by name. */
kc_status kc__apply_kw(kc_object *layer, kc_symbol *const *inputs, int n_inputs, const kc_call_kwargs *kw,
                       kc_symbol **outs, int *n_out, kc_error *err);
/* The keyword arguments a node's layer is called with (borrowed from the
 * node; kw->names NULL for a plain call). */
void kc__gnode_kwargs(const kc__gnode *node, kc_call_kwargs *kw);

/* A node of a model config, read: the tensors it references, the argument
 * each is bound to and the call's other arguments. */
typedef struct kc__node_ref {
    const char *layer; /* borrowed from the config */
    int node, tensor;
} kc__node_ref;
typedef struct kc__node_args {
    kc__node_ref refs[KC__MAX_MODEL_IO];
    const char *names[KC__MAX_MODEL_IO]; /* NULL: positional */
    int n;
    json_t *options;       /* owned, or NULL */
} kc__node_args;
/* Read one entry of inbound_nodes: Keras 2's list of [layer, node, tensor,
 * kwargs] (kwargs tensors as [layer, node, tensor]) or Keras 3's {"args",
 * "kwargs"} with __keras_tensor__ objects. Positional tensors (the first
 * argument's, then any later positional argument's) stay unnamed, in order:
 * the layer binds them as for an eager call (Keras 3's mha(q, v) and
 * Add()(a, b) alike). Errors name the JSON path. Free with
 * kc__node_args_fini. */
kc_status kc__node_args_read(const json_t *node, const kc_config_ctx *ctx, kc__node_args *out, kc_error *err);
void kc__node_args_fini(kc__node_args *a);
/* A node in Keras 2's form: the first argument's inputs as [layer, node,
 * tensor, kwargs] entries, every other tensor argument and option in the
 * kwargs of each (engine/node.py serialize). refs[i] is input i's
 * [layer, node, tensor] (borrowed). Returns: new JSON list, or NULL. */
json_t *kc__node_args_write(const kc__gnode *node, json_t *const *refs, kc_error *err);
kc__gnode *kc__gnode_ref(kc__gnode *n);

/* The graph of a Functional model, in execution order. */
typedef struct kc__graph kc__graph;

struct kc__model_state {
    kc_object **layers; /* model.layers, owned references */
    int n_layers, cap_layers;
    kc__idmap members; /* layer address -> 1 for each of layers (no duplicates) */
    int n_inputs, n_outputs;
    kc_shape in_shapes[KC__MAX_MODEL_IO];
    kc_shape out_shapes[KC__MAX_MODEL_IO];
    kc_object *in_layer[KC__MAX_MODEL_IO];  /* borrowed: layers feeding / producing */
    kc_object *out_layer[KC__MAX_MODEL_IO]; /* the inputs and outputs (names) */
    bool io_known;        /* shapes above are valid */
    kc_object *input_layer; /* Sequential: its InputLayer (not in layers), owned */
    kc__graph *graph;     /* Functional only */
    void *trainer;        /* compile state (trainer.c), owned */
    void (*trainer_free)(void *);
    void *inference;      /* inference plans (lib/inference), owned */
    void (*inference_free)(void *);
};

static inline kc__model_state *kc__mstate(const kc_object *m)
{
    return ((const kc_model *)m)->state;
}

kc_status kc__model_append_layer(kc_object *model, kc_object *layer, kc_error *err);
/* A model config's layer entry that is a Keras 3 operation node, which
 * ckeras cannot run: KC_ENOTFOUND naming it (operation_nodes.c). */
kc_status kc__check_operation_node(const json_t *entry, const kc_config_ctx *ctx, kc_error *err);
/* Drop the last of model.layers. */
void kc__model_pop_layer(kc_object *model);
/* Whether layer is one of model.layers (O(1)). */
bool kc__model_has_layer(const kc_object *model, const kc_object *layer);
void kc__graph_free(kc__graph *g);

/* Sequential / Functional classes and their config readers. */
extern const kc_class kc__sequential_class, kc__functional_class, kc__model_alias_class;
extern const kc_class kc__input_layer_class;
bool kc__is_sequential(const kc_object *m);
bool kc__is_functional(const kc_object *m);
/* Make a Functional model of the graph from inputs to outputs (functional.c). */
kc_status kc__functional_setup(kc_object *model, kc_symbol *const *inputs, int n_in,
                               kc_symbol *const *outputs, int n_out, kc_error *err);
/* Read a Functional model_config (functional_config.c). */
kc_status kc__functional_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err);
/* The symbol an InputLayer feeds (symbol.c) and a layer entry of a config
 * (sequential.c, shared with Functional). */
kc_symbol *kc__input_symbol(kc_object *input_layer, kc_error *err);
kc_status kc__deserialize_layer(const json_t *j, const kc_config_ctx *ctx, kc_object **out,
                                kc_error *err);
/* Neither: a user model class. */
bool kc__is_subclassed(const kc_object *m);

/* Keras 3's build_config of a subclassed model ({"input_shape": shape or
 * list of shapes}, stored beside its config so it can be built, and its
 * weights loaded, before any call); *out is NULL for other models. */
kc_status kc__model_build_config(kc_object *model, json_t **out, kc_error *err);
/* Build an unbuilt model from a build_config (NULL or null: nothing). */
kc_status kc__model_build_from_config(kc_object *model, const json_t *build_config,
                                      const kc_config_ctx *ctx, kc_error *err);

/* For the summary: a functional model's nodes and layer output shapes. */
int kc__graph_num_nodes(const kc__graph *g);
const kc__gnode *kc__graph_node(const kc__graph *g, int i);
/* Index of a layer's first node within a model config: 1 for nested
 * Functional / Sequential models with inputs (Keras' _should_skip_first_node). */
int kc__first_node_index(const kc_object *layer);
/* Node index of n renumbered within the model (Keras' node_conversion_map). */
int kc__graph_node_index(const kc__graph *g, const kc__gnode *n);
bool kc__graph_sequential_like(const kc__graph *g);
/* The model's input and output symbols (lib/inference). Borrowed. */
int kc__graph_num_inputs(const kc__graph *g);
int kc__graph_num_outputs(const kc__graph *g);
kc_symbol *kc__graph_input(const kc__graph *g, int i);
kc_symbol *kc__graph_output(const kc__graph *g, int i);

/* InputLayer details. */
kc_shape kc__input_layer_shape(const kc_object *input_layer);

#endif /* CKERAS_MODELS_INT_H */
