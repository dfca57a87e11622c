/* modelinspect: what a training_config says (spec section 7.1), in words.
 *
 * Keras wrote loss and metrics as names, serialized objects, lists per
 * output or dicts by output name, across versions; the optimizer as
 * {"class_name", "config"}. These are shown as a user would have written
 * them in compile(): names where Keras kept names, class names for loss
 * and metric objects, hyperparameters at float32 precision (Keras stores
 * float32 values widened to double: 0.0010000000474974513 is 0.001). */
#include "training.h"

#include <stdlib.h>
#include <string.h>

/* Append to a fixed buffer, truncating. */
static void add(char *buf, size_t size, const char *s)
{
    size_t used = strlen(buf);
    if (used + 1 < size) snprintf(buf + used, size - used, "%s", s);
}

static void value_text(const json_t *v, char *buf, size_t size);

static void scalar_text(const json_t *v, char *buf, size_t size)
{
    char one[64];
    if (json_is_string(v)) add(buf, size, json_string_value(v));
    else if (json_is_integer(v)) snprintf(one, sizeof one, "%lld", (long long)json_integer_value(v)), add(buf, size, one);
    else if (json_is_real(v)) {
        snprintf(one, sizeof one, "%.7g", json_real_value(v));
        if (!strpbrk(one, ".eEn")) strncat(one, ".0", sizeof one - strlen(one) - 1); /* Python's 0.0 */
        add(buf, size, one);
    }
    else if (json_is_true(v)) add(buf, size, "true");
    else if (json_is_false(v)) add(buf, size, "false");
    else add(buf, size, "none");
}

static void value_text(const json_t *v, char *buf, size_t size)
{
    size_t i;
    const char *key;
    const json_t *item;
    if (json_is_array(v)) {
        add(buf, size, "[");
        json_array_foreach(v, i, item) {
            if (i) add(buf, size, ", ");
            value_text(item, buf, size);
        }
        add(buf, size, "]");
    } else if (json_is_object(v) && json_is_string(json_object_get(v, "class_name"))) {
        const char *cls = json_string_value(json_object_get(v, "class_name"));
        const char *name = json_string_value(json_object_get(json_object_get(v, "config"), "name"));
        /* compile(metrics=["acc"]) comes back as a MeanMetricWrapper named "acc" */
        add(buf, size, strcmp(cls, "MeanMetricWrapper") == 0 && name ? name : cls);
    } else if (json_is_object(v)) {
        add(buf, size, "{");
        i = 0;
        json_object_foreach((json_t *)v, key, item) {
            if (i++) add(buf, size, ", ");
            add(buf, size, key);
            add(buf, size, ": ");
            value_text(item, buf, size);
        }
        add(buf, size, "}");
    } else {
        scalar_text(v, buf, size);
    }
}

void training_text(const json_t *v, char *buf, size_t size)
{
    buf[0] = '\0';
    value_text(v, buf, size);
}

const json_t *training_optimizer(const json_t *tc)
{
    const json_t *oc = json_object_get(tc, "optimizer_config");
    return json_is_object(oc) && json_is_string(json_object_get(oc, "class_name")) ? oc : NULL;
}

void training_optimizer_text(const json_t *oc, char *buf, size_t size)
{
    buf[0] = '\0';
    add(buf, size, json_string_value(json_object_get(oc, "class_name")));
    const json_t *cfg = json_object_get(oc, "config");
    const char *key;
    const json_t *v;
    bool first = true;
    json_object_foreach((json_t *)cfg, key, v) {
        if (strcmp(key, "name") == 0 || json_is_null(v)) continue;
        add(buf, size, first ? " (" : ", ");
        add(buf, size, key);
        add(buf, size, "=");
        value_text(v, buf, size);
        first = false;
    }
    if (!first) add(buf, size, ")");
}

void training_print(FILE *out, const json_t *tc)
{
    if (!tc) {
        fprintf(out, "not compiled: the file has no training_config\n");
        return;
    }
    char text[4096];
    const json_t *oc = training_optimizer(tc);
    if (oc) training_optimizer_text(oc, text, sizeof text);
    fprintf(out, "optimizer: %s\n", oc ? text : "none");
    training_text(json_object_get(tc, "loss"), text, sizeof text);
    fprintf(out, "loss: %s\n", text);
    training_text(json_object_get(tc, "metrics"), text, sizeof text);
    fprintf(out, "metrics: %s\n", text);
    const json_t *lw = json_object_get(tc, "loss_weights");
    if (lw && !json_is_null(lw)) {
        training_text(lw, text, sizeof text);
        fprintf(out, "loss_weights: %s\n", text);
    }
}

json_t *training_json(const json_t *tc)
{
    if (!tc) return json_null();
    const json_t *oc = training_optimizer(tc);
    json_t *o = json_object();
    json_object_set_new(o, "optimizer", oc ? json_deep_copy(oc) : json_null());
    static const char *const keys[] = {"loss", "metrics", "weighted_metrics", "loss_weights"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const json_t *v = json_object_get(tc, keys[i]);
        json_object_set_new(o, keys[i], v ? json_deep_copy(v) : json_null());
    }
    return o;
}
