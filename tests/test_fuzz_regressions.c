/* The fuzzers' regression corpus (tests/fuzz/regressions/), replayed by
 * every `make test`: every input that ever crashed, hung or leaked, and
 * the files of issue 15's bugs.
 *
 *   h5_file/, keras_archive/   each file loaded in isolated mode -- as a
 *                 model and as weights, by position and by name: never a
 *                 crash of this process, always a model or a named error,
 *                 within the timeout, no leak here (under AddressSanitizer)
 *   config/       through fuzz_config, in this process
 *   description/  through fuzz_description, in this process
 *
 * The harness code is the fuzz build's own (tests/fuzz/fuzz_*.c, compiled
 * here without libFuzzer's entry point). */
#define _GNU_SOURCE /* memfd_create, in fuzz_common.h */
#include "testutil.h"

#include "fuzz/fuzz_common.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The files of regressions/<sub>, sorted; returns how many. */
static int list(const char *sub, char paths[][4400], int max)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%.3000s/tests/fuzz/regressions/%s", getenv("CKERAS_SOURCE_ROOT"), sub);
    DIR *d = opendir(dir);
    if (!d) return 0; /* nothing found there yet (git keeps no empty folder) */
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < max;)
        if (e->d_name[0] != '.' && strcmp(e->d_name, "README.md") != 0) snprintf(paths[n++], 4400, "%s/%s", dir, e->d_name);
    closedir(d);
    qsort(paths, (size_t)n, sizeof paths[0], (int (*)(const void *, const void *))strcmp);
    return n;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static char paths[256][4400];

START_TEST(crashing_files_end_in_a_named_error_isolated)
{
    int n = list("h5_file", paths, 256);
    ck_assert_int_ge(n, 8);
    n += list("keras_archive", paths + n, 256 - n);
    for (int i = 0; i < n; i++) {
        kc_error err = {0};
        kc_untrusted_limits lim = {.timeout_seconds = 2};
        double t = now();
        kc_object *m = kc_model_load_untrusted(paths[i], NULL, &lim, &err);
        ck_assert_msg(m || (err.code > KC_OK && err.code < KC_STATUS_COUNT && err.message[0]), "%s: no named error", paths[i]);
        ck_assert_msg(now() - t < 10, "%s: %.1f s", paths[i], now() - t);
        fprintf(stderr, "%-40s %s%s%s\n", strrchr(paths[i], '/') + 1, m ? "loaded" : kc_status_name(err.code), m ? "" : ": ",
                m ? "" : err.message);
        kc_object_unref(m);
        fuzz_file_at(paths[i], true); /* and as weights, by position and by name */
    }
}
END_TEST

START_TEST(config_and_description_inputs_replay_cleanly)
{
    const char *subs[2] = {"config", "description"};
    int (*fns[2])(const uint8_t *, size_t) = {fuzz_config, fuzz_description};
    for (int s = 0; s < 2; s++) {
        int n = list(subs[s], paths, 256);
        for (int i = 0; i < n; i++) {
            size_t len;
            uint8_t *data = read_all(paths[i], &len);
            fns[s](data, len);
            free(data);
        }
        fprintf(stderr, "%s: %d inputs replayed\n", subs[s], n);
    }
}
END_TEST

static Suite *regressions_suite(void)
{
    Suite *s = suite_create("fuzz_regressions");
    TCase *tc = tcase_create("regressions");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, crashing_files_end_in_a_named_error_isolated);
    tcase_add_test(tc, config_and_description_inputs_replay_cleanly);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(regressions_suite)
