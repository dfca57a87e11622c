/* The small real data sets in samples/data, as tensors: what the samples,
 * the demo and the training tests train on. Uses only <ckeras.h>. */
#ifndef CKERAS_SAMPLES_DATASETS_H
#define CKERAS_SAMPLES_DATASETS_H

#include <ckeras.h>

/* A text table of numbers separated by `sep` (',' or ' ': runs of spaces
 * count as one), one row per line, as a float32 [rows, cols] tensor.
 * Returns NULL with err filled when the file is missing or ragged. */
kc_tensor *ds_read_table(const char *path, char sep, kc_error *err);

/* UCI digits from `dir`: x [1797, 64] pixels scaled to [0, 1], y [1797, 10]
 * one-hot, rows in a fixed shuffled order (the file is grouped by
 * writer); the first n_train go to *_train, the rest to *_test. */
kc_status ds_digits(const char *dir, int64_t n_train, kc_tensor **x_train, kc_tensor **y_train,
                    kc_tensor **x_test, kc_tensor **y_test, kc_error *err);

/* Diabetes from `dir`: x [442, 10] standardized per column (mean 0, std 1),
 * y [442, 1] the target divided by 100. */
kc_status ds_diabetes(const char *dir, kc_tensor **x, kc_tensor **y, kc_error *err);

#endif
