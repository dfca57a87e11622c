/* Fuzzing whole-file loading (fuzz_file.c) with HDF5 model and weights
 * files: Keras 1, 2 and 3 legacy .h5 models, Keras 2 and Keras 3
 * (.weights.h5) weights files.
 *
 * libhdf5 1.10 is not memory-safe on corrupted files: this harness finds
 * its crashes as well as ckeras'. scripts/fuzz.sh runs it with libFuzzer's
 * -fork mode, keeps going after a crash, and sorts the crashes by the
 * library they are in. The replay of its regression corpus loads every
 * file isolated. */
#include "fuzz_common.h"

int fuzz_h5_file(const uint8_t *data, size_t size) { return fuzz_file_bytes(data, size, ".h5"); }

#ifndef CKERAS_FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_h5_file(data, size); }
#endif
