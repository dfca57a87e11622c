/* The fuzzers' seed corpora, made from model files (the test fixtures):
 *
 *     fuzz_seeds OUTDIR FILE.h5...
 *
 *   OUTDIR/config/        each file's model_config (first byte 0, or 1 for
 *                         Keras 1 files) and training_config (first byte 2)
 *   OUTDIR/h5_file/       the .h5 files themselves, and each model that
 *                         loads saved again as Keras 3 weights (.weights.h5)
 *   OUTDIR/keras_archive/ the .keras files themselves, and each model that
 *                         loads saved again as a .keras archive
 *   OUTDIR/description/   what an isolated load's child sends back for each
 *                         file that loads, and a weights-only description
 *                         for fuzz_small_model() */
#include "fuzz_common.h"

#include "../../lib/isolation/isolated_load.h"
#include "../../lib/isolation/isolation_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

static const char *out_dir;

static FILE *create(const char *sub, const char *stem, const char *ext)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s%s", out_dir, sub, stem, ext);
    FILE *f = fopen(path, "wb");
    if (!f) fprintf(stderr, "fuzz_seeds: cannot create %s: %s\n", path, strerror(errno));
    return f;
}

static void config_seed(kc_h5file *h, const char *attr, char mode, const char *stem)
{
    kc_error err = {0};
    json_t *j = NULL;
    if (kc_h5file_attr_json(h, attr, &j, &err) != KC_OK || !j) return;
    char *text = kc_json_dump(j, &err);
    char name[300];
    snprintf(name, sizeof name, "%s-%s", stem, attr);
    FILE *f = text ? create("config", name, ".json") : NULL;
    if (f) {
        fputc(mode, f);
        fputs(text, f);
        fclose(f);
    }
    kc_json_free(text);
    json_decref(j);
}

static void copy_seed(const char *path, const char *sub, const char *stem, const char *ext)
{
    FILE *in = fopen(path, "rb"), *out = in ? create(sub, stem, ext) : NULL;
    char buf[65536];
    size_t n;
    while (out && (n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    if (out) fclose(out);
    if (in) fclose(in);
}

/* The model in path saved again in the other Keras 3 forms. */
static void resave_seeds(const char *path, const char *stem)
{
    kc_error err = {0};
    kc_object *m = kc_model_load(path, NULL, &err);
    if (!m) return;
    char out[4096];
    snprintf(out, sizeof out, "%s/keras_archive", out_dir);
    mkdir(out, 0755);
    snprintf(out, sizeof out, "%s/keras_archive/%s-resaved.keras", out_dir, stem);
    kc_save_options so = {.no_sync = true};
    if (kc_model_save(m, out, &so, &err) != KC_OK) fprintf(stderr, "fuzz_seeds: %s: %s\n", out, err.message);
    snprintf(out, sizeof out, "%s/h5_file/%s-resaved.weights.h5", out_dir, stem);
    kc_error_clear(&err);
    if (kc_model_save_weights(m, out, &so, &err) != KC_OK) fprintf(stderr, "fuzz_seeds: %s: %s\n", out, err.message);
    kc_object_unref(m);
}

static void description_seed(const char *path, const char *stem)
{
    FILE *f = create("description", stem, ".desc");
    if (!f) return;
    kc_error err = {0};
    kc_status rc = kc__describe_load(path, NULL, fileno(f), &err);
    fclose(f);
    if (rc != KC_OK) fprintf(stderr, "fuzz_seeds: %s: %s\n", path, err.message);
}

static void weights_only_seed(void)
{
    FILE *f = create("description", "small-weights-only", ".desc");
    if (!f) return;
    kc_object *m = fuzz_small_model();
    kc__desc_writer w;
    kc__desc_begin(&w, fileno(f));
    kc__desc_text(&w, KC__DESC_WARNING, "a warning");
    for (int i = 0; i < kc_layer_num_weights(m); i++)
        kc__desc_array(&w, KC__DESC_WEIGHT, kc_variable_value(kc_layer_weight(m, i)));
    kc__desc_end(&w);
    fclose(f);
    kc_object_unref(m);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fuzz_seeds OUTDIR FILE.h5...\n");
        return 64;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0755);
    if (kc_init(NULL) != KC_OK) return 1;
    for (int i = 2; i < argc; i++) {
        const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        char stem[256];
        snprintf(stem, sizeof stem, "%.*s", (int)strcspn(base, "."), base);
        size_t k = strlen(argv[i]);
        bool archive = k > 6 && strcmp(argv[i] + k - 6, ".keras") == 0;
        kc_error err = {0};
        kc_h5file *h = kc_h5file_open(argv[i], &err);
        if (h) {
            const char *v = kc_h5file_keras_version(h);
            config_seed(h, "model_config", v && v[0] == '1' ? 1 : 0, stem);
            config_seed(h, "training_config", 2, stem);
            kc_h5file_close(h);
        }
        copy_seed(argv[i], archive ? "keras_archive" : "h5_file", stem, archive ? ".keras" : ".h5");
        if (!archive) resave_seeds(argv[i], stem);
        description_seed(argv[i], stem);
    }
    weights_only_seed();
    kc_release_caches();
    return 0;
}
