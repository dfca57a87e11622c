/* ckeras private: the typed constructors' shared machinery (lib/api). */
#ifndef CKERAS_API_INT_H
#define CKERAS_API_INT_H

#include "../objects/objects_int.h"
#include <ckeras/args.h>
#include <ckeras/layer.h>

/* kc_object_from_args with `where` naming the constructor in messages. */
kc_object *kc__object_from_args(const kc_class *cls, const kc_arg_field *fields, int n_fields, const void *args,
                                const char *where, kc_error *err);
/* The same for a registered built-in class found by (kind, name). */
kc_object *kc__make_builtin(kc_kind kind, const char *class_name, const kc_arg_field *fields, int n_fields,
                            const void *args, const char *where, kc_error *err);

/* The object a kc_spec stands for (a new reference in *out; NULL for an
 * empty spec), of `kind`; `where` and `key` name it in messages. */
kc_status kc__spec_object(const kc_spec *s, kc_kind kind, const char *where, const char *key, kc_object **out,
                          kc_error *err);

/* One typed constructor over a field table: kc_<module>_<fn>(args) makes
 * the built-in `cls` of `kind`. */
#define KC__CONSTRUCTOR(fn, args_type, kind, cls, table)                                           \
    kc_object *fn(const args_type *args, kc_error *err)                                            \
    {                                                                                              \
        return kc__make_builtin(kind, cls, table, KC_ARRAY_SIZE(table), args, #fn, err);          \
    }

#endif /* CKERAS_API_INT_H */
