/* ckeras private: inference plans (lib/inference).
 *
 * A plan is a model compiled for one set of input shapes, with training off:
 * a list of steps over values (the tensors between layers), made from the
 * layers' inference slots (layers/layer_infer.h) with nested Sequential and
 * Functional models inlined. Building it (build.c) is followed by folding
 * (fold.c: identity layers and views cost nothing, ZeroPadding goes into the
 * convolution after it, BatchNormalization into the convolution or Dense
 * before it, activations into the step that produces their input), buffer
 * assignment (memory.c: every intermediate gets an offset in one arena,
 * reused once its last reader has run) and weight preparation; running it
 * (run.c) is a loop over the steps calling the same kernels as the op-by-op
 * path, with no tape, no allocation and no per-layer bookkeeping. The plan
 * watches the weights it read (their versions) and the layer structure
 * (kc__layers_generation); infer.c rebuilds it when either moves. */
#ifndef CKERAS_PLAN_INT_H
#define CKERAS_PLAN_INT_H

#include "../core/conv_backend.h"
#include "../layers/layer_infer.h"
#include "../models/models_int.h"

typedef enum kc__step_kind {
    KC__ST_CONV,
    KC__ST_DENSE,
    KC__ST_AFFINE,
    KC__ST_ACT,
    KC__ST_SOFTMAX,
    KC__ST_MERGE,
    KC__ST_CONCAT,
    KC__ST_POOL,
    KC__ST_GPOOL,
    KC__ST_PAD,
    KC__ST_COPY,  /* an output that is a model input or another output */
    KC__ST_CALL,  /* the layer's own call */
} kc__step_kind;

typedef enum kc__loc { KC__LOC_ARENA, KC__LOC_INPUT, KC__LOC_OUTPUT } kc__loc;

typedef struct kc__pvalue {
    kc_dtype dtype;
    int ndim;
    int64_t dims[KC_MAX_DIMS];
    int64_t size;    /* elements */
    int root;        /* the value whose buffer this is: itself, or what it is a view of */
    int producer;    /* step writing it (roots only), -1 for model inputs */
    kc__loc loc;     /* roots: where the buffer is */
    int io;          /* KC__LOC_INPUT / OUTPUT: which one */
    size_t offset;   /* KC__LOC_ARENA: bytes into the arena */
    int readers;     /* steps reading it or a view of it (roots), after folding */
    int last_read;   /* the last of them (roots) */
    bool output;     /* a model output */
} kc__pvalue;

typedef struct kc__pstep {
    kc__step_kind kind;
    bool dead;             /* folded away */
    kc_object *layer;      /* borrowed: the layer it comes from (CALL runs it) */
    kc__layer_infer d;     /* the layer's description */
    int *in, n_in;         /* value ids */
    int *out, n_out;
    kc__act act;           /* fused activation (none: KC__OP_COUNT) */
    /* CONV, POOL: geometry; PAD folded into a convolution widens its pads */
    kc__conv_plan conv;
    bool pointwise_part;   /* CONV: the 1x1 half of a separable convolution */
    int64_t pad_before[KC__CONV_MAX_SPATIAL], pad_after[KC__CONV_MAX_SPATIAL]; /* CONV: a ZeroPadding folded in */
    bool has_bn;           /* CONV, DENSE: a BatchNormalization folded in */
    kc__layer_infer bn;
    /* CONV, DENSE: what the kernel reads: the variables' data or folded copies */
    const float *w, *b;
    float *folded_w, *folded_b; /* owned */
    kc__conv_backend *backend;  /* CONV: the compute backend's primitive, owned (or NULL) */
    void *backend_w;            /* its kernel, reordered from w */
    size_t backend_w_cap;
    /* AFFINE: inv = 1 / sqrt(var + eps) per channel, owned; [outer, c, inner] */
    float *inv;
    const float *mean, *gamma, *beta;
    int64_t outer, channels, inner; /* AFFINE, CONCAT (inner: elements after the axis), GPOOL */
    size_t scratch;        /* bytes per thread slot */
} kc__pstep;

typedef struct kc__plan {
    int n_inputs, n_outputs;
    kc_shape in_shapes[KC__MAX_MODEL_IO]; /* the key, with in_dtypes */
    kc_dtype in_dtypes[KC__MAX_MODEL_IO];
    int input_value[KC__MAX_MODEL_IO], output_value[KC__MAX_MODEL_IO];
    kc__pvalue *values;
    int n_values, cap_values;
    kc__pstep *steps;
    int n_steps, cap_steps;
    /* validity: the weights read and their versions, the layer structure */
    kc_variable **watch;
    unsigned long *watch_version;
    int n_watch, cap_watch;
    unsigned long generation;
    bool call_losses; /* a layer would add losses on a direct call (activity regularizers) */
    /* memory */
    char *arena;
    size_t arena_bytes, arena_cap;
    char *scratch;
    size_t scratch_per_slot, scratch_cap;
    int scratch_slots;
} kc__plan;

/* build.c: a plan for these inputs. *refused (no error) when the model
 * cannot have one (masks, a subclassed model at the top); errors are
 * reported but the caller falls back to the op-by-op path anyway. */
kc_status kc__plan_build(kc_object *model, const kc_shape *shapes, const kc_dtype *dtypes, int n_inputs,
                         kc__plan **out, bool *refused, kc_error *err);
void kc__plan_free(kc__plan *p);
/* The arena a plan for these inputs would need, from its steps and their
 * layout alone (no weights folded, no primitives, nothing allocated):
 * *bytes 0 when the model cannot have a plan. */
kc_status kc__plan_arena_estimate(kc_object *model, const kc_shape *shapes, const kc_dtype *dtypes, int n_inputs,
                                  size_t *bytes, kc_error *err);
/* Add a value / a step (growing the arrays). Return the id or -1. */
int kc__plan_value(kc__plan *p, kc_dtype dtype, int ndim, const int64_t *dims);
int kc__plan_step(kc__plan *p, kc__step_kind kind, kc_object *layer, const int *in, int n_in, const int *out,
                  int n_out);
/* Follow views to the buffer's owner. */
static inline int kc__plan_root(const kc__plan *p, int v) { return p->values[v].root; }

/* fold.c: the folding passes, then the weights the steps read. */
kc_status kc__plan_fold(kc__plan *p, kc_error *err);
kc_status kc__plan_prepare(kc__plan *p, kc_error *err);

/* memory.c: offsets for every intermediate, the arena and the scratch;
 * kc__plan_layout only the offsets and arena_bytes (nothing allocated). */
kc_status kc__plan_place(kc__plan *p, kc_error *err);
kc_status kc__plan_layout(kc__plan *p, kc_error *err);
/* Scratch for this many thread slots (grows when the thread count did). */
kc_status kc__plan_scratch(kc__plan *p, int slots, kc_error *err);

/* run.c: run the plan on input buffers, writing the outputs' buffers.
 * *fallback when a layer run through its call returned what the plan could
 * not know (another dtype): the caller takes the op-by-op path. */
kc_status kc__plan_run(kc__plan *p, const void *const *inputs, void *const *outputs, bool *fallback,
                       kc_error *err);

/* True when the plan's weights and layers are as they were at build. */
bool kc__plan_valid(const kc__plan *p);

#endif /* CKERAS_PLAN_INT_H */
