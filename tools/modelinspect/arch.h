/* modelinspect: a model's architecture read from its model_config JSON
 * alone (layers, their calls and what each call consumes), so that
 * summary, graph and diff work without the model's classes. */
#ifndef MODELINSPECT_ARCH_H
#define MODELINSPECT_ARCH_H

#include <ckeras.h>

#include <stdbool.h>

/* One tensor a call consumes: output `tensor` of call `node` of `layer`. */
typedef struct arch_ref {
    const char *layer; /* borrowed from the JSON */
    int node, tensor;
} arch_ref;

/* One call of a layer (Keras' inbound node). */
typedef struct arch_node {
    arch_ref *in;  /* what the call consumes, in order */
    int n_in;
    kc_shape *out; /* output shapes, when arch_infer_shapes found them */
    int n_out;
    bool shaped;   /* out is known */
    bool tried;    /* arch_infer_shapes called the layer on this node */
} arch_node;

typedef struct arch_model arch_model;

typedef struct arch_layer {
    const char *name, *class_name; /* borrowed from the JSON */
    const json_t *config;          /* the layer's "config" (borrowed) */
    arch_node *nodes;              /* InputLayers have one call without inputs */
    int n_nodes;
    arch_model *inner;             /* a nested model's own architecture, or NULL */
} arch_layer;

struct arch_model {
    const char *name, *class_name; /* borrowed */
    bool sequential;               /* layers chained in order (no inbound_nodes) */
    bool listed;                   /* false: the config lists no layers (a subclassed model) */
    arch_layer *layers;
    int n_layers;
    arch_ref *inputs, *outputs;    /* Functional input_layers / output_layers */
    int n_inputs, n_outputs;
};

/* Read {"class_name": ..., "config": {...}} in the Keras 1, 2 or 3 form
 * (list or dict inbound nodes, old bare-list Sequential configs). The
 * result borrows strings from model_config, which must outlive it.
 * Returns: NULL with err set (KC_EFORMAT naming the JSON path). */
arch_model *arch_parse(const json_t *model_config, kc_error *err);
void arch_free(arch_model *a);
/* The architecture of a model file: *model_config receives the parsed
 * attribute (the result borrows from it; decref it after arch_free).
 * Prints the error (weights-only files have none) and returns NULL. */
arch_model *arch_load(kc_h5file *f, json_t **model_config);
/* The layer called name, or NULL. */
arch_layer *arch_find(const arch_model *a, const char *name);
/* The call a reference names (Keras' node numbering), or NULL. */
arch_node *arch_source(const arch_model *a, const arch_ref *r);
/* True for InputLayer entries (a Sequential's is not in model.layers). */
bool arch_is_input(const arch_layer *l);

/* Fill every call's output shapes from a loaded model of this
 * architecture: input shapes from the model, then each layer's
 * kc_layer_compute_output_shape in call order (nested models too). Calls
 * whose inputs or layer are unknown stay unshaped. */
void arch_infer_shapes(arch_model *a, const kc_object *model);

/* Without a model: only InputLayers' shapes, from their configs'
 * batch_input_shape (Keras 2) or batch_shape (Keras 3). */
void arch_input_shapes_from_config(arch_model *a);

/* The layer's output shape as Keras' summary prints it: "(None, 8)",
 * "[(None, 8)]" for inputs and several outputs, "multiple" when calls
 * differ. plain: no list brackets for inputs. False when unknown. */
bool arch_shape_text(const arch_layer *l, bool plain, char *buf, size_t size);
/* [[null, 8], ...] (the first call's outputs), "multiple", or null. New reference. */
json_t *arch_shape_json(const arch_layer *l);
/* "['dense[0][0]', 'input_2[0][0]']": every call's inputs, as Keras. */
void arch_connections_text(const arch_layer *l, char *buf, size_t size);
/* The same as a JSON list of "dense[0][0]" strings. New reference. */
json_t *arch_connections_json(const arch_layer *l);

#endif
