/* Fuzzing the isolated loader's parent: the input is what a child sent
 * back (a description, lib/isolation/description.c) -- the only thing a
 * file that took over the child can make the parent read. The parent
 * rebuilds a model from it, and fills a small model's weights from it;
 * arrays "in the file" are read from a fixed 1 MiB file. Neither may crash,
 * leak or allocate what the description merely claims. */
#include "fuzz_common.h"

#include "../../lib/isolation/isolated_load.h"

int fuzz_description(const uint8_t *data, size_t size)
{
    static bool ready;
    static int desc = -1, file = -1;
    if (!ready) {
        static uint8_t pattern[1 << 20];
        for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (uint8_t)(i * 2654435761u >> 24);
        ready = kc_init(NULL) == KC_OK && fuzz_memfd(&file, "fuzz-file", pattern, sizeof pattern) >= 0;
    }
    if (!ready || fuzz_memfd(&desc, "fuzz-description", data, size) < 0) return 0;
    kc_error err = {0};
    kc_load_options lo = {.max_weight_bytes = (int64_t)16 << 20};
    kc_object *m = kc__model_from_description(desc, file, &lo, &err);
    kc_object_unref(m);
    kc_object *small = fuzz_small_model();
    kc_error_clear(&err);
    if (kc__weights_from_description(small, desc, file, NULL, &err) != KC_OK) kc_error_clear(&err);
    kc_object_unref(small);
    kc_clear_session();
    return 0;
}

#ifndef CKERAS_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_description(data, size); }
#endif
