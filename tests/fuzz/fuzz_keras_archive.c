/* Fuzzing whole-file loading (fuzz_file.c) with Keras 3 .keras archives:
 * the zip container (entries, names, sizes, what expands past the load's
 * budget), config.json and metadata.json, and the model.weights.h5 inside,
 * opened by HDF5 from memory. libzip and libhdf5 are third-party code
 * here: scripts/fuzz.sh runs this in -fork mode and sorts what it finds by
 * library, as for fuzz_h5_file. */
#include "fuzz_common.h"

int fuzz_keras_archive(const uint8_t *data, size_t size) { return fuzz_file_bytes(data, size, ".keras"); }

#ifndef CKERAS_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_keras_archive(data, size); }
#endif
