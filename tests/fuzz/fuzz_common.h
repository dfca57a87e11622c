/* Shared by the fuzz harnesses (tests/fuzz/README.md), their seed tool and
 * the regression replay (tests/test_fuzz_regressions.c).
 *
 * Each harness is a function `int fuzz_<name>(const uint8_t *data, size_t
 * size)`; built for libFuzzer (the fuzz build, scripts/fuzz.sh), its file
 * also defines LLVMFuzzerTestOneInput; built for the replay
 * (CKERAS_FUZZ_REPLAY) it does not, and one test program calls them all. */
#ifndef CKERAS_FUZZ_COMMON_H
#define CKERAS_FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <ckeras.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int fuzz_config(const uint8_t *data, size_t size);
int fuzz_h5_file(const uint8_t *data, size_t size);
int fuzz_keras_archive(const uint8_t *data, size_t size);
int fuzz_description(const uint8_t *data, size_t size);
/* The whole-file harnesses' work on a path (fuzz_file.c): a load, the
 * inspection API, and weights-only loads into fuzz_small_model();
 * isolated when untrusted. */
int fuzz_file_at(const char *path, bool untrusted);
/* ... on data written to a file in memory whose name ends in extension. */
int fuzz_file_bytes(const uint8_t *data, size_t size, const char *extension);

/* A memfd holding data (created once per caller; rewritten each time). */
static inline int fuzz_memfd(int *fd, const char *name, const uint8_t *data, size_t size)
{
    if (*fd < 0) *fd = memfd_create(name, MFD_CLOEXEC);
    if (*fd < 0 || ftruncate(*fd, 0) != 0) return -1;
    for (size_t done = 0; done < size;) {
        ssize_t k = pwrite(*fd, data + done, size - done, (off_t)done);
        if (k <= 0) return -1;
        done += (size_t)k;
    }
    return *fd;
}

/* Input(3) -> Dense(4, "a") -> Dense(2, "b"): the model weights-only loads fill. */
static inline kc_object *fuzz_small_model(void)
{
    kc_error err = {0};
    kc_object *m = kc_sequential_new("small", &err), *in = kc_input_layer(1, (int64_t[]){3}, NULL, &err);
    kc_object *a = kc_layer_create("Dense", "{\"units\": 4, \"name\": \"a\"}", &err);
    kc_object *b = kc_layer_create("Dense", "{\"units\": 2, \"name\": \"b\"}", &err);
    if (!m || !in || !a || !b || kc_sequential_add(m, in, &err) != KC_OK || kc_sequential_add(m, a, &err) != KC_OK ||
        kc_sequential_add(m, b, &err) != KC_OK) {
        fprintf(stderr, "fuzz: cannot build the small model: %s\n", err.message);
        _exit(1);
    }
    kc_object_unref(in);
    kc_object_unref(a);
    kc_object_unref(b);
    return m;
}

#endif /* CKERAS_FUZZ_COMMON_H */
