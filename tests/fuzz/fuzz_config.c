/* Fuzzing the config path: JSON text as Keras writes it (kc_json_parse),
 * a model built from it (kc_deserialize and build, as a load does, with a
 * 16 MiB weight budget), serialized again; Keras 1 configs translated
 * first; training configs compiled onto a small model. The first byte
 * chooses: 0 model_config, 1 Keras 1 model_config, 2 training_config. */
#include "fuzz_common.h"

#include "../../lib/saving/saving_int.h"

static void model_config(json_t *j, bool keras1)
{
    kc_error err = {0};
    if (keras1 && kc__keras1_translate(j, &err) != KC_OK) return;
    kc_object *m = NULL;
    if (kc__model_from_json(j, "model_config", NULL, (int64_t)16 << 20, true, &m, &err) != KC_OK) return;
    json_t *again = NULL;
    if (kc__model_config_json(m, &again, &err) == KC_OK) {
        char *text = kc_json_dump(again, &err);
        kc_json_free(text);
    }
    json_decref(again);
    kc_object_unref(m);
}

static void training_config(json_t *j)
{
    kc_error err = {0};
    kc_object *m = fuzz_small_model();
    if (kc_model_compile_json(m, j, NULL, &err) == KC_OK) {
        json_t *tc = NULL;
        if (kc_model_training_config(m, &tc, &err) == KC_OK) json_decref(tc);
    }
    kc_object_unref(m);
}

int fuzz_config(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) ready = kc_init(NULL) == KC_OK;
    if (size < 1) return 0;
    kc_error err = {0};
    json_t *j = kc_json_parse((const char *)data + 1, size - 1, 512, &err);
    if (!j) return 0;
    if (data[0] % 3 == 2) training_config(j);
    else model_config(j, data[0] % 3 == 1);
    json_decref(j);
    kc_clear_session();
    return 0;
}

#ifndef CKERAS_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_config(data, size); }
#endif
