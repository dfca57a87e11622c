/* PLACEHOLDER: the metric kind; see include/ckeras/metric.h for the contract. */
#include "../objects/objects_int.h"
#include <ckeras/metric.h>

const kc__kind_info kc__metric_kind = {
    .name = "metric",
    .base_size = sizeof(kc_metric),
    .function_class = &kc__function_classes[KC_KIND_METRIC],
};

const kc__builtins kc__metric_builtins = {0};
