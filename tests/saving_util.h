/* Helpers of the saving suites: scratch paths, weight and prediction
 * comparisons, seeded weights. */
#ifndef CKERAS_TESTS_SAVING_UTIL_H
#define CKERAS_TESTS_SAVING_UTIL_H

#include "testutil.h"

/* tu_tmpdir()/name in one of a few rotating static buffers. */
const char *su_path(const char *name);

/* Every weight of every layer set from a seeded stream: uniform [-1, 1),
 * variances (names containing "variance") in [0.5, 1.5). */
void su_randomize_weights(kc_object *model, uint64_t seed);

/* Same weight count, names, shapes and bytes. */
void su_assert_same_weights(kc_object *a, kc_object *b);
/* Same kc_serialize JSON. */
void su_assert_same_config(const kc_object *a, const kc_object *b);
/* Same shapes and bytes. */
void su_assert_bit_identical(const kc_tensor *a, const kc_tensor *b, const char *what);
/* Both models compiled with the same optimizer class, iteration count,
 * learning rate and optimizer weights (names, shapes, bytes). */
void su_assert_same_optimizer_state(kc_object *a, kc_object *b);

/* Inputs for a model: one per input, float uniform [-1, 1) (unknown
 * dimensions become `batch`), or int32 ids in [0, int_range) when
 * int_range > 0. */
void su_model_inputs(kc_object *model, int64_t batch, int int_range, uint64_t seed, kc_tensor **ins);
/* kc_model_predict with every output checked; returns the count. */
int su_predict(kc_object *model, kc_tensor *const *ins, kc_tensor **outs);

/* Save, load (with custom objects) and check config and weights bit for
 * bit (the config as su_round_trip says). Returns the loaded model. */
kc_object *su_save_load(kc_object *model, const char *file, const kc_custom_objects *co);
/* Save, load (with custom objects) and check config, weights and
 * predictions on `ins` bit for bit (to a .keras file: the config less the
 * batch_input_shape of layers other than InputLayers, which Keras 3's
 * form does not have). Returns the loaded model. */
kc_object *su_round_trip(kc_object *model, const char *file, const kc_custom_objects *co,
                         kc_tensor *const *ins);

/* Rewrite the layer_names of path's /model_weights as a list of two
 * variable-length strings, the first `first` and the second damaged: its
 * global heap reference points where there is no heap, so HDF5 converts
 * the first string and then fails (issue 15's bug 3). */
void su_damage_vlen_layer_names(const char *path, const char *first);

/* A JSON file (fails the test when unreadable). New reference. */
json_t *su_load_json(const char *path);
/* Predict io_path's inputs (kept in ins[0..*n_in), new references) and
 * compare with its outputs (rtol 1e-4, atol 1e-5). */
void su_check_golden(kc_object *m, const char *io_path, kc_tensor **ins, int *n_in);

/* Split a Markdown table row "| `file` | a | b |" into its cells (in
 * place); 0 for lines that are not rows of a file table. */
int su_table_row(char *line, char **cols, int max);
/* README.md (at $CKERAS_SOURCE_ROOT) contains sentence. */
void su_assert_readme_says(const char *sentence);

/* A model from its config JSON (fails the test on error). New reference. */
kc_object *su_model_from_json(const char *json);
/* kc_layer_create, failing the test on error. New reference. */
kc_object *su_layer(const char *cls, const char *cfg);
/* kc_apply, failing the test on error; drops the caller's reference to l. */
kc_symbol *su_apply(kc_object *l, kc_symbol *const *in, int n);

/* keras-ref's io.json: the model's inputs and outputs, named. */
void su_write_io(const char *path, kc_object *m, kc_tensor *const *ins, int n_in, kc_tensor *const *outs, int n_out);

#endif
