/* PLACEHOLDER: the optimizer kind; see include/ckeras/optimizer.h for the contract. */
#include "../objects/objects_int.h"
#include <ckeras/optimizer.h>

const kc__kind_info kc__optimizer_kind = {
    .name = "optimizer",
    .base_size = sizeof(kc_optimizer),
    .function_class = &kc__function_classes[KC_KIND_OPTIMIZER],
};

const kc__builtins kc__optimizer_builtins = {0};
