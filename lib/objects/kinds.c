/* The kinds table: what each kind adds to its classes (see kc__kind_info).
 * A kind whose module defines a kc__kind_info uses it; the others get a
 * minimal entry (no base keys, any methods). */
#include "objects_int.h"

extern const kc__kind_info kc__activation_kind;
extern const kc__kind_info kc__initializer_kind;
extern const kc__kind_info kc__regularizer_kind;
extern const kc__kind_info kc__constraint_kind;
extern const kc__kind_info kc__layer_kind;
extern const kc__kind_info kc__model_kind;
extern const kc__kind_info kc__loss_kind;
extern const kc__kind_info kc__metric_kind;
extern const kc__kind_info kc__optimizer_kind;
extern const kc__kind_info kc__schedule_kind;

static const kc__kind_info *const defined[KC_KIND_COUNT] = {
    [KC_KIND_ACTIVATION] = &kc__activation_kind,
    [KC_KIND_INITIALIZER] = &kc__initializer_kind,
    [KC_KIND_REGULARIZER] = &kc__regularizer_kind,
    [KC_KIND_CONSTRAINT] = &kc__constraint_kind,
    [KC_KIND_LAYER] = &kc__layer_kind,
    [KC_KIND_MODEL] = &kc__model_kind,
    [KC_KIND_LOSS] = &kc__loss_kind,
    [KC_KIND_METRIC] = &kc__metric_kind,
    [KC_KIND_OPTIMIZER] = &kc__optimizer_kind,
    [KC_KIND_SCHEDULE] = &kc__schedule_kind,
};

static const kc__kind_info minimal[KC_KIND_COUNT] = {
#define X(id, str) [KC_KIND_##id] = {.name = str, .base_size = sizeof(kc_object), .function_class = &kc__function_classes[KC_KIND_##id]},
    KC_KIND_LIST(X)
#undef X
};

const kc__kind_info *kc__kind(kc_kind kind)
{
    if ((unsigned)kind >= KC_KIND_COUNT) return &minimal[0];
    return defined[kind] ? defined[kind] : &minimal[kind];
}
