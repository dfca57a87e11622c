/* The project's reference for Keras semantics, keras-ref (TensorFlow.js +
 * h5wasm, in ../shared/conformance beside the checkout, or
 * $CKERAS_CONFORMANCE_DIR). Suites that use it skip, saying why, when it is
 * absent or Node.js/npm is missing. */
#ifndef CKERAS_TESTS_KERAS_REF_H
#define CKERAS_TESTS_KERAS_REF_H

#include <stdbool.h>

/* Find keras-ref and run its setup (once per process). Returns the path of
 * the keras-ref script, or NULL with the reason in why[0..n). */
const char *kr_find(char *why, int n);

/* Run "keras-ref ARGS" with output captured into out[0..n); returns its
 * exit status (-1 when it could not run). */
int kr_run(const char *args, char *out, int n);

/* Exit status meson reads as "skipped". */
#define KR_SKIP 77

#endif
