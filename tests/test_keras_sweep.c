/* Real Keras files of the issue-14 sweep (tests/data/keras-sweep; STATUS.md is
 * the table of what loads, checked row by row): loading without warnings,
 * the goldens, optimizer state, resaving as .keras and .h5, and the
 * unknown-class error for classes that are not Keras'. */
#include "saving_util.h"

#include <string.h>

static kc_error err;
static void setup(void)
{
    kc_error_clear(&err);
    kc_clear_session();
}

typedef struct warnings {
    int n;
    char last[1024];
} warnings;

static void collect(void *user, const char *message)
{
    warnings *w = user;
    w->n++;
    snprintf(w->last, sizeof w->last, "%s", message);
}

typedef struct sweep_row {
    char file[128], format[16], optimizer[16], unknown[64];
    bool loads, golden;
} sweep_row;

static int read_table(sweep_row *rows, int max)
{
    FILE *f = fopen(tu_data("keras-sweep/STATUS.md"), "r");
    ck_assert_msg(f != NULL, "cannot open keras-sweep/STATUS.md");
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char *cols[8] = {0};
        int nc = su_table_row(line, cols, 8);
        if (nc == 0) continue;
        ck_assert_int_lt(n, max);
        sweep_row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        ck_assert_int_ge(nc, 7);
        ck_assert_int_eq(sscanf(cols[0], " `%127[^`]`", r->file), 1);
        ck_assert_int_eq(sscanf(cols[2], " %15s", r->format), 1);
        const char *status = cols[3] + strspn(cols[3], " ");
        r->loads = strncmp(status, "loads", 5) == 0;
        if (!r->loads)
            ck_assert_msg(sscanf(status, "unknown class `%63[^`]`", r->unknown) == 1, "%s: status '%s'", r->file,
                          status);
        r->golden = strncmp(cols[4] + strspn(cols[4], " "), "matches", 7) == 0;
        ck_assert_int_eq(sscanf(cols[5], " %15s", r->optimizer), 1);
    }
    fclose(f);
    return n;
}

/* The file's format, told by content as the loader tells it. */
static const char *format_of(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char magic[4] = {0};
    ck_assert_int_eq(fread(magic, 1, 4, f), 4);
    fclose(f);
    return magic[0] == 'P' && magic[1] == 'K' ? ".keras" : ".h5";
}

START_TEST(sweep_files_load_as_the_table_says)
{
    sweep_row rows[32];
    int n = read_table(rows, 32), loads = 0, goldens = 0, matched = 0;
    ck_assert_int_eq(n, 11);
    for (int i = 0; i < n; i++) {
        const sweep_row *r = &rows[i];
        char rel[256], io_rel[256];
        snprintf(rel, sizeof rel, "keras-sweep/%.127s", r->file);
        const char *dot = strrchr(r->file, '.');
        snprintf(io_rel, sizeof io_rel, "keras-sweep/%.*s.io.json", (int)(dot - r->file) & 127, r->file);
        static char path[16384], io_path[16384];
        snprintf(path, sizeof path, "%s", tu_data(rel));
        snprintf(io_path, sizeof io_path, "%s", tu_data(io_rel));
        ck_assert_msg(strcmp(format_of(path), r->format) == 0, "%s: the format column says %s", r->file, r->format);
        FILE *probe = fopen(io_path, "r");
        ck_assert_msg((probe != NULL) == r->golden, "%s: the golden column disagrees with the files", r->file);
        if (probe) fclose(probe);
        goldens += r->golden;

        warnings w = {0};
        kc_load_options lo = {.warn = collect, .warn_user = &w};
        kc_error_clear(&err);
        kc_object *m = kc_model_load(path, &lo, &err);
        ck_assert_msg(r->loads == (m != NULL), "%s: %s (%s)", r->file, err.message, err.context);
        if (!m) {
            CK_ERR(err, KC_ENOTFOUND, r->unknown);
            ck_assert_msg(strstr(err.message, "Unknown layer class") != NULL, "%s: %s", r->file, err.message);
            continue;
        }
        loads++;
        ck_assert_msg(w.n == 0, "%s: %d warnings, the last: %s", r->file, w.n, w.last);
        kc_tensor *ins[KC_MAX_LAYER_OUTPUTS];
        int n_in = 0;
        if (r->golden) {
            su_check_golden(m, io_path, ins, &n_in);
            matched++;
        }
        for (int k = 0; k < n_in; k++) kc_tensor_unref(ins[k]);
        bool state = strcmp(r->optimizer, "state") == 0, compiled = state || strcmp(r->optimizer, "compiled") == 0;
        ck_assert_msg(compiled == kc_model_is_compiled(m), "%s: compiled %d", r->file, kc_model_is_compiled(m));
        if (compiled)
            ck_assert_msg((kc_optimizer_iterations(kc_model_optimizer(m)) > 0) == state, "%s: iterations %lld",
                          r->file, (long long)kc_optimizer_iterations(kc_model_optimizer(m)));
        /* both formats keep the config, every weight and optimizer weight bit for bit */
        static const char *const out[] = {"sweep_resave.keras", "sweep_resave.h5"};
        for (int k = 0; k < 2; k++) {
            kc_object *back = su_save_load(m, out[k], NULL);
            if (compiled) su_assert_same_optimizer_state(m, back);
            kc_object_unref(back);
        }
        kc_object_unref(m);
    }
    char want[256];
    snprintf(want, sizeof want, "loads %d of the %d files kept from the sweep", loads, n);
    su_assert_readme_says(want);
    snprintf(want, sizeof want, "reproduces %d of their %d goldens", matched, goldens);
    su_assert_readme_says(want);
}
END_TEST

static Suite *keras_sweep_suite(void)
{
    Suite *s = suite_create("keras_sweep");
    TCase *tc = tcase_create("real files");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, sweep_files_load_as_the_table_says);
    suite_add_tcase(s, tc);
    return s;
}

TU_MAIN(keras_sweep_suite)
