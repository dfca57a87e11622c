/* The op table: name and backward function of every differentiable op,
 * indexed by kc__op and generated from KC__OP_LIST (autodiff_int.h).
 * Forward functions are the public kc_* entry points; nodes only need the
 * way back. */
#include "autodiff_int.h"


const kc__op_info kc__op_table[KC__OP_COUNT] = {
#define X(id, name, backward) [KC__OP_##id] = {name, backward},
    KC__OP_LIST(X)
#undef X
};
