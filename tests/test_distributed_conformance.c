/* A checkpoint written by a 2-process fit loads in TensorFlow.js and
 * predicts what ckeras predicts from it (keras-ref check). Skipped, saying
 * why, without keras-ref.
 *   test_distributed_conformance MPIRUN_SH TEST_DISTRIBUTED */
#include "keras_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_distributed_conformance MPIRUN_SH TEST_DISTRIBUTED\n");
        return 64;
    }
    char why[512];
    if (!kr_find(why, sizeof why)) {
        printf("distributed_conformance: SKIPPED: %s\n", why);
        return KR_SKIP;
    }
    char dir[4096], cmd[16384], out[8192];
    snprintf(dir, sizeof dir, "%s/dist-conformance-%ld", TEST_BUILD_DIR, (long)getpid());
    mkdir(dir, 0700);
    snprintf(cmd, sizeof cmd, "'%s' 2 '%s' --checkpoint '%s'", argv[1], argv[2], dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "distributed_conformance: the 2-process fit failed: %s\n", cmd);
        return 1;
    }
    snprintf(cmd, sizeof cmd, "check '%s/dist.h5' '%s/dist.io.json' --rtol 1e-4 --atol 1e-5", dir, dir);
    int rc = kr_run(cmd, out, sizeof out);
    printf("%s", out);
    if (rc != 0 || !strstr(out, ": OK:")) {
        fprintf(stderr, "distributed_conformance: keras-ref check failed (exit %d)\n", rc);
        return 1;
    }
    printf("distributed_conformance: the 2-process checkpoint loads in TensorFlow.js and predicts the same\n");
    return 0;
}
