/* PLACEHOLDER: the loss kind; see include/ckeras/loss.h for the contract. */
#include "../objects/objects_int.h"
#include <ckeras/loss.h>

const kc__kind_info kc__loss_kind = {
    .name = "loss",
    .base_size = sizeof(kc_loss),
    .function_class = &kc__function_classes[KC_KIND_LOSS],
};

const kc__builtins kc__loss_builtins = {0};
