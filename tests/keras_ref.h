/* The project's reference for Keras semantics, keras-ref (TensorFlow.js +
 * h5wasm, in ../shared/conformance beside the checkout, or
 * $CKERAS_CONFORMANCE_DIR). A test that uses it starts with KR_REQUIRE():
 * when keras-ref is absent or Node.js/npm is missing the test is skipped,
 * saying why (TU_SKIP), except in CI (CI=true), where it fails. Such tests
 * carry the Check tag "tfjs" (see tests/meson.build). */
#ifndef CKERAS_TESTS_KERAS_REF_H
#define CKERAS_TESTS_KERAS_REF_H

#include "testutil.h"

#include <stdbool.h>

/* Find keras-ref and run its setup (once per process). Returns the path of
 * the keras-ref script, or NULL with the reason in why[0..n). */
const char *kr_find(char *why, int n);

/* Run "keras-ref ARGS" with output captured into out[0..n); returns its
 * exit status (-1 when it could not run). */
int kr_run(const char *args, char *out, int n);

/* Exit status meson reads as "skipped" (for a program that checks before
 * running its suite; it fails instead when tu_in_ci()). */
#define KR_SKIP 77

/* Skip (fail in CI) the running test unless keras-ref can run. */
#define KR_REQUIRE()                                                                               \
    do {                                                                                           \
        char kr_why_[600];                                                                         \
        if (!kr_find(kr_why_, (int)sizeof kr_why_)) {                                              \
            ck_assert_msg(!tu_in_ci(), "keras-ref must run in CI (CI=true): %s", kr_why_);         \
            TU_SKIP("%s", kr_why_);                                                                \
        }                                                                                          \
    } while (0)

#endif
