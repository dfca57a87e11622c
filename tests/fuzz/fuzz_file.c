/* The whole-file harnesses' shared work (fuzz_h5_file, fuzz_keras_archive):
 * the input written to a file in /dev/shm (memory; HDF5 1.10 cannot open a
 * memfd by its /proc/self/fd path, as it resolves the name with realpath),
 * then loaded as a model, inspected with the kc_h5file API and loaded as
 * weights into a small model, by position and by name -- in this process,
 * or isolated (the regression replay). */
#include "fuzz_common.h"

#include <stdlib.h>

static void inspect(const char *path)
{
    kc_error err = {0};
    kc_h5file *f = kc_h5file_open(path, &err);
    if (!f) return;
    json_t *j = NULL;
    if (kc_h5file_attr_json(f, "model_config", &j, &err) == KC_OK) json_decref(j);
    const kc_h5file_weight *w, *o;
    size_t n = 0, no = 0;
    if (kc_h5file_weights(f, &w, &n, &err) == KC_OK) {
        for (size_t i = 0; i < n && i < 8; i++) {
            kc_tensor *t = NULL;
            if (kc_h5file_read(f, &w[i], &t, &err) == KC_OK) kc_tensor_unref(t);
        }
    }
    if (kc_h5file_optimizer_weights(f, &o, &no, &err) == KC_OK && no > 0) {
        kc_tensor *t = NULL;
        if (kc_h5file_read(f, &o[0], &t, &err) == KC_OK) kc_tensor_unref(t);
    }
    kc_h5file_close(f);
}

int fuzz_file_at(const char *path, bool untrusted)
{
    kc_error err = {0};
    kc_load_options lo = {.max_weight_bytes = (int64_t)64 << 20};
    kc_untrusted_limits lim = {.timeout_seconds = 2};
    kc_object *m = untrusted ? kc_model_load_untrusted(path, &lo, &lim, &err) : kc_model_load(path, &lo, &err);
    kc_object_unref(m);
    if (!untrusted) inspect(path);
    for (int by_name = 0; by_name < 2; by_name++) {
        kc_object *small = fuzz_small_model();
        kc_weights_options wo = {.by_name = by_name, .skip_mismatch = by_name};
        kc_error_clear(&err);
        kc_status rc = untrusted ? kc_model_load_weights_untrusted(small, path, &wo, &lim, &err)
                                 : kc_model_load_weights(small, path, &wo, &err);
        if (rc != KC_OK) kc_error_clear(&err);
        kc_object_unref(small);
    }
    kc_clear_session();
    return 0;
}

int fuzz_file_bytes(const uint8_t *data, size_t size, const char *extension)
{
    static bool ready;
    static char dir[64];
    if (!ready) {
        snprintf(dir, sizeof dir, "%s", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        ready = kc_init(NULL) == KC_OK;
    }
    char path[160];
    snprintf(path, sizeof path, "%s/ckeras-fuzz-%d%s", dir, (int)getpid(), extension);
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    bool ok = fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0 || !ok) return 0;
    fuzz_file_at(path, false);
    unlink(path);
    return 0;
}
