/* ckeras private: the isolated loaders behind kc_model_load_untrusted and
 * kc_model_load_weights_untrusted (lib/saving/format.c). */
#ifndef CKERAS_ISOLATED_LOAD_H
#define CKERAS_ISOLATED_LOAD_H

#include <ckeras/io.h>

kc_object *kc__model_load_isolated(const char *path, const kc_load_options *opts, const kc_untrusted_limits *limits,
                                   kc_error *err);
kc_status kc__model_load_weights_isolated(kc_object *model, const char *path, const kc_weights_options *opts,
                                          const kc_untrusted_limits *limits, kc_error *err);

/* The parent's half on its own, for the fuzzers (tests/fuzz/): rebuild a
 * model, or fill model's weights, from a description at desc_fd, arrays
 * in the file at file_fd. */
kc_object *kc__model_from_description(int desc_fd, int file_fd, const kc_load_options *opts, kc_error *err);
kc_status kc__weights_from_description(kc_object *model, int desc_fd, int file_fd, const kc_weights_options *opts,
                                       kc_error *err);
/* The child's half in this process: load path and write its description
 * to desc_fd (seed corpora for the fuzzers). */
kc_status kc__describe_load(const char *path, const kc_load_options *opts, int desc_fd, kc_error *err);

#endif /* CKERAS_ISOLATED_LOAD_H */
