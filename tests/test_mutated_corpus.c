/* Issue 15's acceptance corpus: 1,200 structurally mutated copies of the
 * test fixtures (tests/fuzz/mutate.py: seeded bit flips, truncations,
 * zeroed, swapped, filled and duplicated blocks), each loaded in isolated
 * mode. Every one must end in a model or a named error within the timeout
 * -- never a crash of this process, and (under AddressSanitizer) no leak
 * in it. The suite reports how the files ended, including how many
 * crashed the child and where.
 *
 * CKERAS_SAVE_CRASHERS=DIR copies the files that crashed the child there
 * (how the regression corpus in tests/fuzz/regressions was started). */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COUNT 1200
#define TIMEOUT 1.0

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Where a crash happened, and how often. */
typedef struct site {
    char what[256];
    int n;
} site;

static void count_site(site *sites, int *n_sites, const char *what)
{
    for (int i = 0; i < *n_sites; i++)
        if (strcmp(sites[i].what, what) == 0) {
            sites[i].n++;
            return;
        }
    if (*n_sites < 64) {
        size_t k = strnlen(what, sizeof sites[0].what - 1);
        memcpy(sites[*n_sites].what, what, k);
        sites[*n_sites].what[k] = '\0';
        sites[(*n_sites)++].n = 1;
    }
}

static void copy_file(const char *from, const char *dir, const char *name)
{
    char to[8400], cmd[17000];
    snprintf(to, sizeof to, "%s/%s", dir, name);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    if (system(cmd) != 0) fprintf(stderr, "cannot copy %s\n", from);
}

START_TEST(mutated_fixtures_end_in_a_model_or_a_named_error)
{
    const char *src = getenv("CKERAS_SOURCE_ROOT"), *python = getenv("CKERAS_PYTHON");
    ck_assert_msg(src != NULL, "CKERAS_SOURCE_ROOT is not set");
    char out[4200], cmd[9000];
    snprintf(out, sizeof out, "%s/mutated", tu_tmpdir());
    snprintf(cmd, sizeof cmd,
             "'%s' '%s/tests/fuzz/mutate.py' --seed 15 --count %d --out '%s' %s/keras-ref/*.h5 "
             "%s/keras/seq_*.h5",
             python ? python : "python3", src, COUNT, out, TEST_DATA_DIR, TEST_DATA_DIR);
    ck_assert_msg(system(cmd) == 0, "the corpus script failed: %s", cmd);
    DIR *d = opendir(out);
    ck_assert_ptr_nonnull(d);
    char **names = calloc(COUNT + 1, sizeof(char *));
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < COUNT + 1;)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    ck_assert_int_eq(n, COUNT);
    qsort(names, (size_t)n, sizeof(char *), cmp_str);

    const char *save = getenv("CKERAS_SAVE_CRASHERS");
    int by_code[KC_STATUS_COUNT] = {0}, crashed = 0, limited = 0, n_sites = 0;
    site sites[64];
    double slowest = 0, t0 = now();
    for (int i = 0; i < n; i++) {
        char path[8400];
        snprintf(path, sizeof path, "%s/%s", out, names[i]);
        kc_untrusted_limits lim = {.timeout_seconds = TIMEOUT};
        kc_error err = {0};
        double t = now();
        kc_object *m = kc_model_load_untrusted(path, NULL, &lim, &err);
        double dt = now() - t;
        if (dt > slowest) slowest = dt;
        ck_assert_msg(dt < TIMEOUT + 5.0, "%s took %.1f s", names[i], dt);
        if (m) {
            by_code[KC_OK]++;
            kc_object_unref(m);
            continue;
        }
        ck_assert_msg(err.code > KC_OK && err.code < KC_STATUS_COUNT && err.message[0], "%s: an error without a code or message",
                      names[i]);
        by_code[err.code]++;
        if (strstr(err.message, "crashed")) {
            /* libhdf5 is not memory-safe on such files; ckeras must be */
            ck_assert_msg(!strstr(err.message, "libckeras") && !strstr(err.message, "the program") &&
                              !strstr(err.message, "test_mutated_corpus"),
                          "%s crashed ckeras: %s", names[i], err.message);
            crashed++;
            count_site(sites, &n_sites, err.message);
            if (save) copy_file(path, save, names[i]);
        } else if (err.code == KC_ELIMIT && strstr(err.message, "isolated loader")) {
            limited++;
            count_site(sites, &n_sites, err.message);
            if (save) copy_file(path, save, names[i]);
        }
    }
    fprintf(stderr, "mutated corpus: %d files in %.1f s (slowest %.2f s): %d loaded", n, now() - t0, slowest, by_code[KC_OK]);
    for (int c = 1; c < KC_STATUS_COUNT; c++)
        if (by_code[c]) fprintf(stderr, ", %d %s", by_code[c], kc_status_name((kc_status)c));
    fprintf(stderr, "\n  %d crashed the child, %d reached a limit of the child:\n", crashed, limited);
    for (int i = 0; i < n_sites; i++) fprintf(stderr, "    %4d  %s\n", sites[i].n, sites[i].what);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}
END_TEST

static Suite *corpus_suite(void)
{
    Suite *s = suite_create("mutated_corpus");
    TCase *tc = tcase_create("corpus");
    tcase_set_timeout(tc, 1800);
    tcase_add_test(tc, mutated_fixtures_end_in_a_model_or_a_named_error);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(corpus_suite)
