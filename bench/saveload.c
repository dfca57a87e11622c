/* bench/saveload: saving and loading a model of about 100M float32
 * parameters (six Dense(4096) layers, 403 MB) against writing and reading
 * the same bytes with fwrite / fread, in the same run, page cache warm:
 *
 *   ratio_save_vs_fwrite = time(fwrite + fclose) / time(kc_model_save)
 *   ratio_load_vs_fread  = time(malloc + fread) / time(kc_model_load)
 *   peak_rss_over_weights = a fresh process's peak RSS while loading /
 *                           the weights' bytes
 *   tiny_load_us         = median time to load a 16 kB two-Dense model
 *                           (open + config + build + weights), of 1000
 *   isolated_load_ratio  = time(kc_model_load_untrusted) / time(kc_model_load)
 *                           of the big model: what the sandboxed child costs
 *   tiny_isolated_load_us = median time of kc_model_load_untrusted on the
 *                           tiny model, of 200 (a fork, a sandbox, a load
 *                           in the child, a rebuild here)
 *
 * Targets: save >= 0.9, load >= 1.0, peak RSS <= 1.10, tiny load < 300 us,
 * isolated_load_ratio <= 1.3.
 * Saves use no_sync (fsync would time the disk, not the code); the same
 * holds for fwrite. Each big timing is the best of three runs.
 *
 *   bench_saveload [DIR]     (files go to DIR, default /tmp; about 1 GB) */
#define _DEFAULT_SOURCE
#include <ckeras.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WIDTH 4096
#define LAYERS 6

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what, const kc_error *err)
{
    fprintf(stderr, "bench/saveload: %s: %s (%s)\n", what, err ? err->message : "", err ? err->context : "");
    exit(1);
}

static kc_object *mlp(int in, const int *units, int n, kc_error *err)
{
    kc_object *m = kc_sequential_new(NULL, err), *l = kc_input_layer(1, (int64_t[]){in}, NULL, err);
    if (!m || !l || kc_sequential_add(m, l, err) != KC_OK) die("model", err);
    kc_object_unref(l);
    for (int i = 0; i < n; i++) {
        char cfg[100];
        snprintf(cfg, sizeof cfg, "{\"units\": %d, \"kernel_initializer\": \"zeros\"}", units[i]);
        l = kc_layer_create("Dense", cfg, err);
        if (!l || kc_sequential_add(m, l, err) != KC_OK) die("layer", err);
        kc_object_unref(l);
    }
    kc_rng rng;
    kc_rng_seed(&rng, 1);
    for (int i = 0; i < kc_layer_num_weights(m); i++) {
        kc_tensor *t = kc_variable_value(kc_layer_weight(m, i));
        kc_rng_fill_uniform(&rng, kc_tensor_f32(t), (size_t)kc_tensor_size(t), -1.0f, 1.0f);
    }
    return m;
}

static double time_save(kc_object *m, const char *path)
{
    kc_error err = {0};
    kc_save_options so = {.no_sync = true};
    double t = now();
    if (kc_model_save(m, path, &so, &err) != KC_OK) die("save", &err);
    return now() - t;
}

static double time_fwrite(kc_object *m, const char *path)
{
    double t = now();
    FILE *f = fopen(path, "wb");
    if (!f) die("fopen", NULL);
    for (int i = 0; i < kc_layer_num_weights(m); i++) {
        const kc_tensor *w = kc_variable_value(kc_layer_weight(m, i));
        if (fwrite(kc_tensor_cdata(w), 1, kc_tensor_nbytes(w), f) != kc_tensor_nbytes(w)) die("fwrite", NULL);
    }
    if (fclose(f) != 0) die("fclose", NULL);
    return now() - t;
}

static double time_load(const char *path)
{
    kc_error err = {0};
    double t = now();
    kc_object *m = kc_model_load(path, NULL, &err);
    double dt = now() - t;
    if (!m) die("load", &err);
    kc_object_unref(m);
    return dt;
}

static double time_load_untrusted(const char *path)
{
    kc_error err = {0};
    double t = now();
    kc_object *m = kc_model_load_untrusted(path, NULL, NULL, &err);
    double dt = now() - t;
    if (!m) die("isolated load", &err);
    kc_object_unref(m);
    return dt;
}

/* What a plain C program does: a malloc'd buffer per weight, fread into it. */
static double time_fread(kc_object *m, const char *path)
{
    int n = kc_layer_num_weights(m);
    void *bufs[64];
    double t = now();
    FILE *f = fopen(path, "rb");
    if (!f) die("fopen", NULL);
    for (int i = 0; i < n; i++) {
        size_t bytes = kc_tensor_nbytes(kc_variable_value(kc_layer_weight(m, i)));
        bufs[i] = malloc(bytes);
        if (!bufs[i] || fread(bufs[i], 1, bytes, f) != bytes) die("fread", NULL);
    }
    fclose(f);
    double dt = now() - t;
    for (int i = 0; i < n; i++) free(bufs[i]);
    return dt;
}

static double best(double a, double b) { return a < b ? a : b; }

/* Peak RSS of this process (VmHWM), in bytes. */
static double own_peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = atof(line + 6);
    if (f) fclose(f);
    return kb * 1024.0;
}

/* Peak RSS (bytes) of a fresh process -- this program run with
 * --load-only, which loads the file and prints its VmHWM. (The rusage of a
 * forked child would count the parent's pages.) */
static double child_peak_rss(const char *path)
{
    char cmd[8300], out[64] = "";
    snprintf(cmd, sizeof cmd, "/proc/%d/exe --load-only '%s'", (int)getpid(), path);
    FILE *p = popen(cmd, "r");
    if (!p || !fgets(out, sizeof out, p) || pclose(p) != 0) die("child load", NULL);
    return atof(out);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--load-only") == 0) {
        kc_error err = {0};
        kc_object *m = kc_model_load(argv[2], NULL, &err);
        if (!m) die("load", &err);
        printf("%.0f\n", own_peak_rss());
        return 0;
    }
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char model_path[4096], raw_path[4096], tiny_path[4096];
    snprintf(model_path, sizeof model_path, "%s/ckeras_bench_%d.h5", dir, (int)getpid());
    snprintf(raw_path, sizeof raw_path, "%s/ckeras_bench_%d.raw", dir, (int)getpid());
    snprintf(tiny_path, sizeof tiny_path, "%s/ckeras_bench_tiny_%d.h5", dir, (int)getpid());
    kc_error err = {0};

    int units[LAYERS];
    for (int i = 0; i < LAYERS; i++) units[i] = WIDTH;
    kc_object *big = mlp(WIDTH, units, LAYERS, &err);
    int64_t params = kc_layer_count_params(big);
    double bytes = 4.0 * (double)params;
    printf("bench/saveload: %lld parameters (%.0f MB) in %d Dense layers\n", (long long)params, bytes / 1e6, LAYERS);

    /* warm up: files exist and are in the page cache */
    time_save(big, model_path);
    time_fwrite(big, raw_path);
    time_load(model_path);
    time_load_untrusted(model_path);
    time_fread(big, raw_path);
    double ts = 1e9, tw = 1e9, tl = 1e9, tr = 1e9, ti = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        ts = best(ts, time_save(big, model_path));
        tw = best(tw, time_fwrite(big, raw_path));
        tl = best(tl, time_load(model_path));
        ti = best(ti, time_load_untrusted(model_path));
        tr = best(tr, time_fread(big, raw_path));
    }
    printf("save %.3f s (%.2f GB/s), fwrite %.3f s; load %.3f s (%.2f GB/s), fread %.3f s\n", ts, bytes / ts / 1e9,
           tw, tl, bytes / tl / 1e9, tr);
    printf("ratio_save_vs_fwrite: %.2f\n", tw / ts);
    printf("ratio_load_vs_fread: %.2f\n", tr / tl);
    printf("isolated load %.3f s\nisolated_load_ratio: %.2f\n", ti, ti / tl);
    printf("peak_rss_over_weights: %.3f\n", child_peak_rss(model_path) / bytes);
    kc_object_unref(big);
    remove(model_path);
    remove(raw_path);

    int tiny_units[2] = {64, 32};
    kc_object *tiny = mlp(32, tiny_units, 2, &err);
    kc_save_options so = {.no_sync = true};
    if (kc_model_save(tiny, tiny_path, &so, &err) != KC_OK) die("save tiny", &err);
    printf("tiny model: %lld parameters (%.1f kB)\n", (long long)kc_layer_count_params(tiny),
           4.0 * (double)kc_layer_count_params(tiny) / 1e3);
    kc_object_unref(tiny);
    static double t[1000];
    for (int i = 0; i < 1000; i++) t[i] = time_load(tiny_path) * 1e6;
    qsort(t, 1000, sizeof(double), cmp);
    printf("tiny_load_us: %.0f\n", t[500]);
    for (int i = 0; i < 200; i++) t[i] = time_load_untrusted(tiny_path) * 1e6;
    qsort(t, 200, sizeof(double), cmp);
    printf("tiny_isolated_load_us: %.0f\n", t[100]);
    remove(tiny_path);
    kc_release_caches();
    return 0;
}
