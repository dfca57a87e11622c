/* ckeras private: the isolated loaders, which kc_model_load and
 * kc_model_load_weights hand over to when `untrusted` is set. */
#ifndef CKERAS_ISOLATED_LOAD_H
#define CKERAS_ISOLATED_LOAD_H

#include <ckeras/io.h>

kc_object *kc__model_load_isolated(const char *path, const kc_load_options *opts, kc_error *err);
kc_status kc__model_load_weights_isolated(kc_object *model, const char *path, const kc_weights_options *opts,
                                          kc_error *err);

#endif /* CKERAS_ISOLATED_LOAD_H */
