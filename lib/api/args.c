/* Typed constructor arguments: an args struct becomes the class's config.
 *
 * A typed constructor never sets an instance's fields itself: it writes the
 * config Keras would save for those arguments (a field left at zero is a
 * key left out, so from_config applies Keras' default) and builds the
 * object with kc_object_from_config. from_config stays the one place where
 * a class reads and validates its arguments, so an object made in C and
 * the same object loaded from a file are the same by construction.
 *
 * C objects cannot be written into JSON. Each one given as KC_OBJECT (or
 * made from KC_FUNCTION) goes into a private kc_custom_objects map under
 * the name "kc_arg:<key>", and the config names it there; from_config
 * resolves names through custom objects first, so the class receives the
 * caller's very object (a reference), and its get_config writes that
 * object's own name or config -- never the private name. */
#include "api_int.h"

#include <limits.h>
#include <string.h>

static kc_status field_error(kc_error *err, kc_status code, const char *where, const char *key,
                             const char *what)
{
    kc__errf(err, code, "%s.%s: %s", where, key, what);
    kc__error_context(err, "%s.%s", where, key);
    return code;
}

static bool is_zero_marker(int64_t v) { return v == (int64_t)KC_ZERO; }

static const char *article(const char *word) { return strchr("aeiou", word[0]) ? "an" : "a"; }

/* The kinds a slot accepts: a layer slot takes models too, and a metric
 * slot loss functions (Keras wraps them in MeanMetricWrapper). */
static bool kind_fits(const kc_object *obj, kc_kind kind)
{
    if (kind == KC_KIND_LAYER) return kc_is_layer(obj);
    if (kind == KC_KIND_METRIC && kc_object_kind(obj) == KC_KIND_LOSS) return kc_object_is_function(obj);
    return kc_object_kind(obj) == kind;
}

static kc_status check_kind(const kc_arg_field *f, const kc_object *obj, const char *where, kc_error *err)
{
    if (kind_fits(obj, f->kind)) return KC_OK;
    char what[200];
    snprintf(what, sizeof what, "expected %s %s, got %s %s ('%s')", article(kc_kind_name(f->kind)),
             kc_kind_name(f->kind), article(kc_kind_name(kc_object_kind(obj))), kc_kind_name(kc_object_kind(obj)),
             kc_object_name(obj));
    return field_error(err, KC_ETYPE, where, f->key, what);
}

/* An object given in C: its config (EMBED) or a private name for it. */
static kc_status object_value(const kc_arg_field *f, kc_object *obj, bool owned, const char *where,
                              json_t **out, kc_custom_objects **co, kc_error *err)
{
    kc_status rc = check_kind(f, obj, where, err);
    if (rc != KC_OK) {
        if (owned) kc_object_unref(obj);
        return rc;
    }
    if (f->flags & KC_ARG_EMBED) {
        rc = kc_serialize(obj, out, err);
        if (owned) kc_object_unref(obj);
        return rc;
    }
    if (!*co && !(*co = kc_custom_objects_new(err))) {
        if (owned) kc_object_unref(obj);
        return kc__error_code(err, KC_ENOMEM);
    }
    char name[160];
    snprintf(name, sizeof name, "kc_arg:%s", f->key);
    rc = kc__custom_objects_put(*co, f->kind, name, owned ? obj : kc_object_ref(obj), err);
    if (rc != KC_OK) return rc;
    *out = json_string(name);
    return *out ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
}

static kc_status spec_value(const kc_arg_field *f, const kc_spec *s, const char *where, json_t **out,
                            kc_custom_objects **co, kc_error *err)
{
    if ((unsigned)f->kind >= KC_KIND_COUNT)
        return field_error(err, KC_EINVAL, where, f->key, "the field table gives no kind for this object");
    if (s->object && (s->name || s->fn))
        return field_error(err, KC_EINVAL, where, f->key,
                           "give a name (KC_NAME), an object (KC_OBJECT) or a function (KC_FUNCTION), not several");
    if (s->object) return object_value(f, s->object, false, where, out, co, err);
    if (s->fn) {
        if (!s->name) return field_error(err, KC_EINVAL, where, f->key, "a function needs the name it is saved under");
        kc_object *fn = kc_function_new(f->kind, s->name, s->fn, NULL, NULL, err);
        if (!fn) return kc__error_code(err, KC_EINVAL);
        return object_value(f, fn, true, where, out, co, err);
    }
    const char *p = s->name;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (*p == '{') {
        *out = kc_json_parse(s->name, strlen(s->name), 0, err);
        if (!*out) kc__error_context(err, "%s.%s", where, f->key);
        return *out ? KC_OK : kc__error_code(err, KC_EFORMAT);
    }
    *out = json_string(s->name);
    return *out ? KC_OK : field_error(err, KC_EINVAL, where, f->key, "the name is not valid UTF-8");
}

static json_t *int_json(int64_t v) { return json_integer(is_zero_marker(v) ? 0 : v); }

static kc_status list_value(const kc_arg_field *f, const kc_shape *s, bool batch_axis, const char *where,
                            json_t **out, kc_error *err)
{
    if (s->ndim < 0 || s->ndim > KC_MAX_DIMS - (batch_axis ? 1 : 0)) {
        char what[96];
        snprintf(what, sizeof what, "expected 1 to %d dimensions, got %d", KC_MAX_DIMS - (batch_axis ? 1 : 0),
                 s->ndim);
        return field_error(err, KC_EINVAL, where, f->key, what);
    }
    bool null_dims = batch_axis || (f->flags & KC_ARG_NULL_DIMS);
    json_t *a = json_array();
    bool oom = !a || (batch_axis && json_array_append_new(a, json_null()));
    for (int i = 0; !oom && i < s->ndim; i++)
        oom = json_array_append_new(a, null_dims && s->dims[i] < 0 ? json_null() : int_json(s->dims[i])) != 0;
    if (oom) {
        json_decref(a);
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    *out = a;
    return KC_OK;
}

static kc_status tuple_value(const kc_arg_field *f, const int64_t *v, const char *where, json_t **out,
                             kc_error *err)
{
    int room = (int)(f->size / sizeof(int64_t)), cap = f->count > 0 && f->count < room ? f->count : room, n = 0;
    while (n < cap && v[n] != 0) n++;
    for (int i = n; i < room; i++)
        if (v[i] != 0) {
            char what[128];
            snprintf(what, sizeof what, "at most %d leading non-zero values (KC_ZERO for a zero), got %d at [%d]",
                     cap, (int)v[i], i);
            return field_error(err, KC_EINVAL, where, f->key, what);
        }
    if (n == 0) return KC_OK;
    if (n == 1) {
        *out = int_json(v[0]);
    } else if ((*out = json_array())) {
        for (int i = 0; i < n && *out; i++)
            if (json_array_append_new(*out, int_json(v[i]))) {
                json_decref(*out);
                *out = NULL;
            }
    }
    return *out ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
}

static kc_status pairs_value(const kc_arg_field *f, const int64_t *v, json_t **out, kc_error *err)
{
    int n = f->count > 0 ? f->count : (int)(f->size / (2 * sizeof(int64_t)));
    bool any = false;
    for (int i = 0; i < 2 * n; i++) any |= v[i] != 0;
    if (!any) return KC_OK;
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) {
        json_t *pair = json_pack("[oo]", int_json(v[2 * i]), int_json(v[2 * i + 1]));
        if (!pair || json_array_append_new(a, pair)) {
            json_decref(a);
            a = NULL;
        }
    }
    *out = a;
    return a ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
}

static kc_status floats_value(const kc_arg_field *f, const kc_floats *v, const char *where, json_t **out,
                              kc_error *err)
{
    if (v->n == 0) return KC_OK;
    if (v->n < 0 || !v->values) return field_error(err, KC_EINVAL, where, f->key, "a list with no values");
    json_t *a = json_array();
    for (int i = 0; a && i < v->n; i++)
        if (json_array_append_new(a, kc__json_float(v->values[i] == (double)KC_ZERO ? 0.0 : v->values[i]))) {
            json_decref(a);
            a = NULL;
        }
    *out = a;
    return a ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
}

/* The JSON value of one field, or *out = NULL when it is the default. */
static kc_status field_value(const kc_arg_field *f, const char *base, const char *where, json_t **out,
                             kc_custom_objects **co, kc_error *err)
{
    const void *p = base + f->offset;
    *out = NULL;
    switch (f->type) {
    case KC_ARG_INT: {
        int v;
        memcpy(&v, p, sizeof v);
        if (v == 0) return KC_OK;
        *out = json_integer(v == INT_MIN ? 0 : v);
        break;
    }
    case KC_ARG_INT64: {
        int64_t v;
        memcpy(&v, p, sizeof v);
        if (v == 0) return KC_OK;
        *out = int_json(v);
        break;
    }
    case KC_ARG_DOUBLE: {
        double v;
        memcpy(&v, p, sizeof v);
        if (v == 0) return KC_OK;
        *out = kc__json_float(v == (double)KC_ZERO ? 0.0 : v);
        break;
    }
    case KC_ARG_BOOL: {
        kc_bool v;
        memcpy(&v, p, sizeof v);
        if (v.value_ == 0) return KC_OK;
        if (v.value_ != 1 && v.value_ != 2)
            return field_error(err, KC_EINVAL, where, f->key, "not a kc_bool (use KC_TRUE or KC_FALSE)");
        *out = json_boolean(v.value_ == 1);
        break;
    }
    case KC_ARG_STRING: {
        const char *v;
        memcpy(&v, p, sizeof v);
        if (!v) return KC_OK;
        *out = !*v && (f->flags & KC_ARG_EMPTY_NULL) ? json_null() : json_string(v);
        if (!*out) return field_error(err, KC_EINVAL, where, f->key, "the string is not valid UTF-8");
        return KC_OK;
    }
    case KC_ARG_SPEC: {
        kc_spec s;
        memcpy(&s, p, sizeof s);
        if (!s.name && !s.object && !s.fn) return KC_OK;
        return spec_value(f, &s, where, out, co, err);
    }
    case KC_ARG_LIST:
    case KC_ARG_INPUT_SHAPE: {
        kc_shape s;
        memcpy(&s, p, sizeof s);
        if (s.ndim == 0) return KC_OK;
        return list_value(f, &s, f->type == KC_ARG_INPUT_SHAPE, where, out, err);
    }
    case KC_ARG_TUPLE:
    case KC_ARG_PAIRS: {
        int64_t v[2 * KC_MAX_DIMS] = {0};
        if (f->size > sizeof v) return field_error(err, KC_EINVAL, where, f->key, "tuple too long");
        memcpy(v, p, f->size);
        return f->type == KC_ARG_TUPLE ? tuple_value(f, v, where, out, err) : pairs_value(f, v, out, err);
    }
    case KC_ARG_FLOATS: {
        kc_floats v;
        memcpy(&v, p, sizeof v);
        return floats_value(f, &v, where, out, err);
    }
    default: return field_error(err, KC_EINVAL, where, f->key, "unknown field type in the table");
    }
    return *out ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
}

kc_status kc_args_to_config(const kc_arg_field *fields, int n_fields, const void *args, const char *where,
                            json_t **config, kc_custom_objects **objects, kc_error *err)
{
    *config = NULL;
    if (!where) where = "args";
    if (n_fields < 0 || (n_fields > 0 && !fields) || !objects)
        return kc__errf(err, KC_EINVAL, "%s: bad field table", where);
    json_t *cfg = json_object();
    if (!cfg) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = KC_OK;
    for (int i = 0; args && rc == KC_OK && i < n_fields; i++) {
        json_t *v = NULL;
        rc = field_value(&fields[i], args, where, &v, objects, err);
        if (rc == KC_OK && v && (fields[i].flags & KC_ARG_REFUSED)) {
            json_decref(v);
            rc = field_error(err, KC_EINVAL, where, fields[i].key, "this class does not take this argument");
        } else if (rc == KC_OK && v && json_object_set_new(cfg, fields[i].key, v))
            rc = kc__errf(err, KC_ENOMEM, "out of memory");
    }
    if (rc != KC_OK) {
        json_decref(cfg);
        kc_custom_objects_free(*objects);
        *objects = NULL;
        return rc;
    }
    *config = cfg;
    return KC_OK;
}

kc_object *kc__object_from_args(const kc_class *cls, const kc_arg_field *fields, int n_fields, const void *args,
                                const char *where, kc_error *err)
{
    json_t *cfg;
    kc_custom_objects *co = NULL;
    if (kc_init(err) != KC_OK) return NULL;
    if (kc_args_to_config(fields, n_fields, args, where, &cfg, &co, err) != KC_OK) return NULL;
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, where, co);
    kc_object *obj = kc_object_from_config(cls, cfg, &ctx, err);
    json_decref(cfg);
    kc_custom_objects_free(co); /* the object keeps references to what it uses */
    return obj;
}

kc_object *kc_object_from_args(const kc_class *cls, const kc_arg_field *fields, int n_fields, const void *args,
                               kc_error *err)
{
    if (!cls) {
        kc__errf(err, KC_EINVAL, "kc_object_from_args: class is NULL");
        return NULL;
    }
    return kc__object_from_args(cls, fields, n_fields, args, cls->name, err);
}

kc_object *kc__make_builtin(kc_kind kind, const char *class_name, const kc_arg_field *fields, int n_fields,
                            const void *args, const char *where, kc_error *err)
{
    if (kc_init(err) != KC_OK) return NULL;
    const kc_class *cls = kc_find_class(kind, class_name);
    if (!cls) {
        kc__errf(err, KC_EINTERNAL, "%s: built-in %s class '%s' is not registered", where, kc_kind_name(kind),
                 class_name);
        return NULL;
    }
    return kc__object_from_args(cls, fields, n_fields, args, where, err);
}

kc_status kc__spec_object(const kc_spec *s, kc_kind kind, const char *where, const char *key, kc_object **out,
                          kc_error *err)
{
    *out = NULL;
    if (!s || (!s->name && !s->object && !s->fn)) return KC_OK;
    kc_arg_field f = {key, KC_ARG_SPEC, 0, sizeof(kc_spec), kind, KC_ARG_EMBED, 0};
    if (s->object && (s->name || s->fn))
        return field_error(err, KC_EINVAL, where, key,
                           "give a name (KC_NAME), an object (KC_OBJECT) or a function (KC_FUNCTION), not several");
    if (s->object) { /* checked like an argument, then shared */
        kc_status rc = check_kind(&f, s->object, where, err);
        if (rc == KC_OK) *out = kc_object_ref(s->object);
        return rc;
    }
    if (s->fn) {
        if (!s->name) return field_error(err, KC_EINVAL, where, key, "a function needs the name it is saved under");
        *out = kc_function_new(kind, s->name, s->fn, NULL, NULL, err);
        return *out ? KC_OK : kc__error_code(err, KC_EINVAL);
    }
    json_t *j = NULL;
    kc_custom_objects *co = NULL;
    kc_status rc = spec_value(&f, s, where, &j, &co, err);
    kc_config_ctx ctx;
    char path[200];
    snprintf(path, sizeof path, "%s.%s", where, key);
    kc_config_ctx_init(&ctx, path, co);
    if (rc == KC_OK) rc = kc_deserialize(kind, j, &ctx, out, err);
    json_decref(j);
    kc_custom_objects_free(co);
    return rc;
}
