/* PLACEHOLDER: the schedule kind; see include/ckeras/schedule.h for the contract. */
#include "../objects/objects_int.h"
#include <ckeras/schedule.h>

const kc__kind_info kc__schedule_kind = {
    .name = "learning rate schedule",
    .base_size = sizeof(kc_object),
    .function_class = &kc__function_classes[KC_KIND_SCHEDULE],
};

const kc__builtins kc__schedule_builtins = {0};
