/* modelinspect's pictures, run as users run them: `graph --format
 * svg|png|pdf` (Graphviz) and `history` (Cairo) write files that are what
 * they claim to be -- PNG signature and IHDR with the size the options ask
 * for, well-formed SVG, PDF header and trailer -- and that show something
 * (the PNGs, decoded with Cairo, hold the black title bars of the layers and
 * the colours of the curves where each panel is); bad options are usage
 * errors; output files appear whole or not at all.
 *
 *     test_pictures graph | history
 *
 * Each part needs its renderer in the build (meson features graphviz,
 * cairo). Without it, the part checks that the command says so clearly,
 * then exits 77 (SKIPPED): a build that cannot draw never passes these. */
#define _DEFAULT_SOURCE /* popen, mkdtemp */
#include "testutil.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#if HAVE_CAIRO
#include <cairo.h>
#endif

static kc_error err;
static void setup(void) { kc_error_clear(&err); }

static char out_text[1 << 16];

/* Run "modelinspect ARGS" (stderr joined) into out_text; returns the exit
 * code, -1 when it did not exit normally. No Check assertions: main uses
 * it outside the tests too. */
static int shell(const char *args)
{
    const char *build = getenv("CKERAS_BUILD_ROOT");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s/tools/modelinspect' %s 2>&1", build ? build : ".", args);
    out_text[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t len = fread(out_text, 1, sizeof out_text - 1, p);
    out_text[len] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    ck_assert_msg(getenv("CKERAS_BUILD_ROOT") != NULL, "CKERAS_BUILD_ROOT is not set (run through meson test)");
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int rc = shell(args);
    ck_assert_msg(rc >= 0, "modelinspect %s did not exit normally:\n%s", args, out_text);
    return rc;
}

#define EXPECT(code, needle, ...)                                                                  \
    do {                                                                                           \
        int rc_ = run(__VA_ARGS__);                                                                \
        ck_assert_msg(rc_ == (code), "exit %d, wanted %d:\n%s", rc_, code, out_text);              \
        ck_assert_msg(strstr(out_text, needle), "output lacks '%s':\n%s", needle, out_text);       \
    } while (0)

static const char *keras_file(const char *name)
{
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "'%s'", tu_data(name));
    return b;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s was not written", path);
    static char buf[1 << 24];
    *len = fread(buf, 1, sizeof buf - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static const char *scratch(const char *name)
{
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tu_tmpdir(), name);
    return b;
}

/* A PNG: the signature, then IHDR first with a sane size; returns it. */
static void check_png(const char *path, uint32_t *width, uint32_t *height)
{
    size_t len;
    const unsigned char *b = (const unsigned char *)read_all(path, &len);
    ck_assert_msg(len > 45 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0, "%s is not a PNG", path);
    ck_assert_msg(memcmp(b + 12, "IHDR", 4) == 0, "%s: the first chunk is not IHDR", path);
    *width = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
    *height = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
    ck_assert_msg(*width >= 16 && *width <= 30000 && *height >= 16 && *height <= 30000, "%s: %u x %u", path, *width,
                  *height);
    ck_assert_msg(memcmp(b + len - 8, "IEND", 4) == 0, "%s does not end with IEND", path);
}

/* Well-formed XML whose root is <svg>, checked by Python's parser (meson's
 * own interpreter is always there); needle must occur in the text. */
static void check_svg(const char *path, const char *needle)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import sys, xml.etree.ElementTree as E; "
             "sys.exit(0 if E.parse(sys.argv[1]).getroot().tag.endswith(\"svg\") else 3)' '%s'",
             path);
    int st = system(cmd);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s is not a well-formed SVG (python3 said %d)", path,
                  WEXITSTATUS(st));
    size_t len;
    ck_assert_msg(strstr(read_all(path, &len), needle), "%s lacks '%s'", path, needle);
}

static void check_pdf(const char *path)
{
    size_t len;
    const char *b = read_all(path, &len);
    ck_assert_msg(len > 64 && memcmp(b, "%PDF-1.", 7) == 0, "%s is not a PDF", path);
    ck_assert_msg(strstr(b + len - 16, "%%EOF"), "%s has no trailer", path);
}

/* No temporary file (NAME.tmpXXXXXX) is left in the scratch directory. */
static void check_no_leftovers(void)
{
    DIR *d = opendir(tu_tmpdir());
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));)
        ck_assert_msg(!strstr(e->d_name, ".tmp"), "a temporary file was left behind: %s", e->d_name);
    closedir(d);
}

#if HAVE_CAIRO
/* Pixels of the PNG within `tol` of the colour, in columns [x0, x1) (fractions of the width). */
static long count_colour(const char *path, unsigned r, unsigned g, unsigned b, unsigned tol, double x0, double x1)
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    ck_assert_msg(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "cairo cannot read %s", path);
    cairo_surface_flush(s);
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    const unsigned char *data = cairo_image_surface_get_data(s);
    long n = 0;
    for (int y = 0; y < h; y++)
        for (int x = (int)(x0 * w); x < (int)(x1 * w); x++) {
            uint32_t px;
            memcpy(&px, data + (size_t)y * (size_t)stride + 4 * (size_t)x, 4);
            unsigned pr = px >> 16 & 0xff, pg = px >> 8 & 0xff, pb = px & 0xff;
            n += abs((int)pr - (int)r) <= (int)tol && abs((int)pg - (int)g) <= (int)tol && abs((int)pb - (int)b) <= (int)tol;
        }
    cairo_surface_destroy(s);
    return n;
}
#endif

/* ---- graph ----------------------------------------------------------------------------------- */

START_TEST(graph_writes_png_svg_and_pdf)
{
    const char *conv = keras_file("keras/func_conv2d_bn_avgpool_k2.10.0.h5");
    uint32_t w, h, w2, h2;
    /* the extension picks the format */
    EXPECT(0, "", "graph %s --show-shapes --show-layer-names --dpi 40 -o '%s'", conv, scratch("conv.png"));
    check_png(scratch("conv.png"), &w, &h);
    ck_assert_msg(h > 2 * w, "a chain of 11 layers top to bottom is tall: %u x %u", w, h);
#if HAVE_CAIRO
    long black = count_colour(scratch("conv.png"), 0, 0, 0, 16, 0, 1);
    ck_assert_msg(black > 11 * 200, "the 11 black title bars are missing (%ld black pixels)", black);
#endif
    /* --dpi scales the picture; --rankdir LR lays the chain out sideways */
    EXPECT(0, "", "graph %s --show-shapes --show-layer-names --dpi 80 --format png -o '%s'", conv, scratch("conv2.png"));
    check_png(scratch("conv2.png"), &w2, &h2);
    ck_assert_msg(w2 > 1.8 * w && w2 < 2.2 * w && h2 > 1.8 * h && h2 < 2.2 * h, "dpi 40: %u x %u, dpi 80: %u x %u", w,
                  h, w2, h2);
    EXPECT(0, "", "graph %s --rankdir LR --dpi 40 -o '%s'", conv, scratch("conv_lr.png"));
    check_png(scratch("conv_lr.png"), &w2, &h2);
    ck_assert_msg(w2 > 2 * h2, "left to right is wide: %u x %u", w2, h2);

    EXPECT(0, "", "graph %s --show-layer-names -o '%s'", conv, scratch("conv.svg"));
    check_svg(scratch("conv.svg"), ">batch_normalization<");
    /* to standard output when redirected, --format given */
    EXPECT(0, "", "graph %s --format svg > '%s'", conv, scratch("stdout.svg"));
    check_svg(scratch("stdout.svg"), ">BatchNormalization<");
    EXPECT(0, "", "graph %s --expand-nested -o '%s'", keras_file("keras/func_resnet8_add_k2.4.0.h5"), scratch("r.pdf"));
    check_pdf(scratch("r.pdf"));
    /* DOT stays the default, also into a file */
    EXPECT(0, "", "graph %s -o '%s'", conv, scratch("conv.dot"));
    size_t len;
    ck_assert_msg(strncmp(read_all(scratch("conv.dot"), &len), "digraph \"model\" {\n", 18) == 0, "not DOT");
    check_no_leftovers();
}
END_TEST

/* A small U-Net (two skip connections) as a real file has it: Graphviz' orthogonal edge
 * router aborts on it ("maze.c: chkSgraph: Assertion ... failed"); modelinspect draws it
 * with ordinary splines instead of dying with Graphviz. */
#define UNET_NODE(cls, name, cfg, in) \
    "{\"class_name\": \"" cls "\", \"name\": \"" name "\", \"config\": {\"name\": \"" name "\"" cfg "}, " \
    "\"inbound_nodes\": [[" in "]]}"
#define UNET_IN(name) "[\"" name "\", 0, 0, {}]"
#define UNET_CONV(name, f, in) UNET_NODE("Conv2D", name, ", \"filters\": " #f ", \"kernel_size\": 3, \"padding\": \"same\"", UNET_IN(in))
static const char unet[] =
    "{\"class_name\": \"Functional\", \"config\": {\"name\": \"unet\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"name\": \"in\", \"config\": {\"name\": \"in\", \"batch_input_shape\": "
    "[null, 16, 16, 3]}, \"inbound_nodes\": []}, "
    UNET_CONV("c1", 4, "in") ", " UNET_CONV("c2", 4, "c1") ", " UNET_NODE("MaxPooling2D", "p1", "", UNET_IN("c2")) ", "
    UNET_CONV("c3", 4, "p1") ", " UNET_CONV("c4", 4, "c3") ", " UNET_NODE("MaxPooling2D", "p2", "", UNET_IN("c4")) ", "
    UNET_NODE("UpSampling2D", "u1", "", UNET_IN("p2")) ", " UNET_NODE("Concatenate", "k1", "", UNET_IN("u1") ", " UNET_IN("c4")) ", "
    UNET_CONV("c5", 4, "k1") ", " UNET_CONV("c6", 4, "c5") ", " UNET_NODE("UpSampling2D", "u2", "", UNET_IN("c6")) ", "
    UNET_NODE("Concatenate", "k2", "", UNET_IN("u2") ", " UNET_IN("c2")) ", "
    UNET_CONV("c7", 4, "k2") ", " UNET_CONV("c8", 4, "c7") ", " UNET_CONV("c9", 1, "c8")
    "], \"input_layers\": [[\"in\", 0, 0]], \"output_layers\": [[\"c9\", 0, 0]]}}";

START_TEST(graph_survives_graphviz_ortho_failures)
{
    json_t *j = json_loads(unet, 0, NULL);
    ck_assert_ptr_nonnull(j);
    kc_object *m = NULL;
    CK_OK(kc_deserialize(KC_KIND_MODEL, j, NULL, &m, &err));
    json_decref(j);
    CK_OK(kc_model_save(m, scratch("unet.h5"), NULL, &err));
    kc_object_unref(m);
    EXPECT(0, "", "graph '%s' -o '%s'", scratch("unet.h5"), scratch("unet.svg"));
    ck_assert_msg(strstr(out_text, "drawn as splines") != NULL,
                  "Graphviz drew this graph with ortho edges: the test no longer shows the fallback:\n%s", out_text);
    check_svg(scratch("unet.svg"), ">Concatenate<");
    EXPECT(0, "", "graph '%s' --dpi 40 -o '%s'", scratch("unet.h5"), scratch("unet.png"));
    uint32_t w, h;
    check_png(scratch("unet.png"), &w, &h);
    check_no_leftovers();
}
END_TEST

START_TEST(graph_picture_errors)
{
    const char *conv = keras_file("keras/func_conv2d_bn_avgpool_k2.10.0.h5");
    EXPECT(64, "unknown --format 'bmp' (dot, svg, png or pdf)", "graph %s --format bmp", conv);
    EXPECT(64, "--rankdir must be TB, LR, BT or RL, not 'XY'", "graph %s --rankdir XY", conv);
    EXPECT(64, "--dpi must be between 10 and 1200", "graph %s --dpi 0 --format png -o x.png", conv);
    EXPECT(64, "--json prints to standard output", "graph %s --json --format svg", conv);
    EXPECT(2, "cannot write", "graph %s -o '%s/no/such/dir/x.png'", conv, tu_tmpdir());
    /* a failure leaves the previous picture as it was */
    FILE *f = fopen(scratch("keep.png"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("previous", f);
    fclose(f);
    EXPECT(2, "holds only weights", "graph %s -o '%s'", keras_file("keras/weightsonly_dense_k2.0.0.h5"), scratch("keep.png"));
    size_t len;
    ck_assert_str_eq(read_all(scratch("keep.png"), &len), "previous");
    check_no_leftovers();
}
END_TEST

/* ---- history --------------------------------------------------------------------------------- */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* What Keras' CSVLogger writes (tf.keras 2.15, sorted keys, \r\n), with
 * the oddities a log can hold: NA, nan, a quoted list. */
static const char *const keras_log =
    "epoch,accuracy,loss,val_accuracy,val_loss\r\n"
    "0,0.5,0.6931471824645996,0.5625,0.6801\r\n"
    "1,0.71875,0.5,0.75,0.55\r\n"
    "2,0.8125,0.25,NA,nan\r\n"
    "3,0.90625,0.125,\"[0.8, 0.9]\",0.3\r\n";

/* A JSON array of n numbers equal to want (NAN: null). */
static void expect_values(const json_t *a, size_t n, const double *want)
{
    ck_assert_msg(json_is_array(a) && json_array_size(a) == n, "not an array of %zu", n);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(a, i);
        if (isnan(want[i])) ck_assert_msg(json_is_null(v), "[%zu] is not null", i);
        else ck_assert_msg(json_is_number(v) && json_number_value(v) == want[i], "[%zu]: %g, wanted %g", i,
                           json_number_value(v), want[i]);
    }
}

START_TEST(history_reads_a_csv_logger_file)
{
    write_text(scratch("keras.csv"), keras_log);
    EXPECT(0, "", "history '%s'", scratch("keras.csv"));
    char want[2048];
    snprintf(want, sizeof want,
             "history: %s, 4 epochs\n\n"
             "value            first     last               min                 max  epochs\n"
             "-----------------------------------------------------------------------------\n"
             "accuracy           0.5  0.90625     0.5 (epoch 0)   0.90625 (epoch 3)       4\n"
             "loss          0.693147    0.125   0.125 (epoch 3)  0.693147 (epoch 0)       4\n"
             "val_accuracy    0.5625     0.75  0.5625 (epoch 0)      0.75 (epoch 1)       2\n"
             "val_loss        0.6801      0.3     0.3 (epoch 3)    0.6801 (epoch 0)       3\n",
             scratch("keras.csv"));
    ck_assert_msg(strcmp(out_text, want) == 0, "printed\n%s\nwanted\n%s", out_text, want);
    EXPECT(0, "", "history '%s' --json", scratch("keras.csv"));
    json_error_t je;
    json_t *j = json_loads(out_text, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s\n%s", je.text, out_text);
    expect_values(json_object_get(j, "epochs"), 4, (double[]){0, 1, 2, 3});
    json_t *series = json_object_get(j, "series");
    expect_values(json_object_get(series, "loss"), 4, (double[]){0.6931471824645996, 0.5, 0.25, 0.125});
    expect_values(json_object_get(series, "val_accuracy"), 4, (double[]){0.5625, 0.75, NAN, NAN});
    expect_values(json_object_get(series, "val_loss"), 4, (double[]){0.6801, 0.55, NAN, 0.3});
    json_decref(j);
    /* another separator */
    write_text(scratch("semi.csv"), "epoch;loss\n0;1.5\n1;0.75\n");
    EXPECT(0, "", "history '%s' --separator ';' --json", scratch("semi.csv"));
    j = json_loads(out_text, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s\n%s", je.text, out_text);
    expect_values(json_object_get(json_object_get(j, "series"), "loss"), 2, (double[]){1.5, 0.75});
    json_decref(j);
    /* broken files: named, with the line */
    write_text(scratch("empty.csv"), "");
    EXPECT(2, "is empty: no CSVLogger header", "history '%s'", scratch("empty.csv"));
    write_text(scratch("wide.csv"), "epoch,loss\r\n0,1.0\r\n1,0.5,7\r\n");
    EXPECT(2, "a row of 3 fields under a header of 2 (", "history '%s'", scratch("wide.csv"));
    ck_assert_msg(strstr(out_text, "wide.csv, line 3)"), "%s", out_text);
    write_text(scratch("noname.csv"), "epoch\r\n0\r\n");
    EXPECT(2, "the header names no logged values", "history '%s'", scratch("noname.csv"));
    EXPECT(2, "cannot open", "history '%s'", scratch("missing.csv"));
    EXPECT(64, "missing FILE.csv", "history");
    EXPECT(64, "--separator must be one character", "history x.csv --separator ab");
    /* the summary into a file, as -o writes pictures */
    EXPECT(0, "", "history '%s' -o '%s'", scratch("keras.csv"), scratch("summary.txt"));
    size_t len;
    ck_assert_str_eq(read_all(scratch("summary.txt"), &len), want);
}
END_TEST

/* A run of ckeras' own CSVLogger, read back and drawn. */
static void train_with_csv_logger(const char *csv, int epochs)
{
    kc_set_random_seed(7);
    kc_object *m = kc_sequential_new("tiny", &err);
    CK_NN(m, err);
    kc_object *in = kc_input_layer(1, (int64_t[]){2}, "x", &err);
    kc_object *d = kc_layer_create("Dense", "{\"units\": 1, \"activation\": \"sigmoid\"}", &err);
    CK_NN(d, err);
    CK_OK(kc_sequential_add(m, in, &err));
    CK_OK(kc_sequential_add(m, d, &err));
    kc_object_unref(in), kc_object_unref(d);
    CK_OK(kc_model_compile(m, "{\"optimizer\": \"sgd\", \"loss\": \"binary_crossentropy\", \"metrics\": [\"accuracy\"]}",
                           NULL, &err));
    kc_tensor *x = TU_T2(8, 2, 0, 0, 0, 1, 1, 0, 1, 1, 0.5f, 0.5f, 0.2f, 0.9f, 0.9f, 0.2f, 0.1f, 0.1f);
    kc_tensor *y = TU_T2(8, 1, 0, 0, 0, 1, 1, 0, 1, 0);
    char cfg[4300];
    snprintf(cfg, sizeof cfg, "{\"filename\": \"%s\"}", csv);
    kc_callback *cb = kc_callback_create("CSVLogger", cfg, &err);
    CK_NN(cb, err);
    kc_fit_args a = {.x = &x, .n_x = 1, .y = &y, .n_y = 1, .batch_size = 4, .epochs = epochs,
                     .validation_split = 0.25, .callbacks = &cb, .n_callbacks = 1};
    kc_history *h = NULL;
    CK_OK(kc_model_fit(m, &a, &h, &err));
    kc_history_free(h);
    kc_callback_free(cb);
    kc_tensor_unref(x), kc_tensor_unref(y);
    kc_object_unref(m);
}

START_TEST(history_draws_the_curves)
{
    train_with_csv_logger(scratch("run.csv"), 12);
    EXPECT(0, "history: ", "history '%s'", scratch("run.csv"));
    ck_assert_msg(strstr(out_text, ", 12 epochs\n") && strstr(out_text, "\nval_loss "), "%s", out_text);
    /* loss and accuracy, each with its val_ twin: two panels side by side,
     * 480 x 320 points each, at dpi/72 pixels per point */
    EXPECT(0, "", "history '%s' --dpi 72 -o '%s'", scratch("run.csv"), scratch("run.png"));
    uint32_t w, h;
    check_png(scratch("run.png"), &w, &h);
    ck_assert_uint_eq(w, 960);
    ck_assert_uint_eq(h, 320);
    EXPECT(0, "", "history '%s' --dpi 144 --format png -o '%s'", scratch("run.csv"), scratch("run2.png"));
    check_png(scratch("run2.png"), &w, &h);
    ck_assert_uint_eq(w, 1920);
    ck_assert_uint_eq(h, 640);
#if HAVE_CAIRO
    /* the loss curves (tab10 blue) on the left, accuracy (orange) on the right */
    long blue_left = count_colour(scratch("run.png"), 0x1f, 0x77, 0xb4, 40, 0, 0.5);
    long blue_right = count_colour(scratch("run.png"), 0x1f, 0x77, 0xb4, 40, 0.5, 1);
    long orange_right = count_colour(scratch("run.png"), 0xff, 0x7f, 0x0e, 40, 0.5, 1);
    ck_assert_msg(blue_left > 300 && blue_right == 0 && orange_right > 300, "blue %ld | %ld, orange right %ld",
                  blue_left, blue_right, orange_right);
#endif
    EXPECT(0, "", "history '%s' -o '%s'", scratch("run.csv"), scratch("run.svg"));
    check_svg(scratch("run.svg"), "viewBox=\"0 0 960 320\"");
    EXPECT(0, "", "history '%s' --format pdf > '%s'", scratch("run.csv"), scratch("run.pdf"));
    check_pdf(scratch("run.pdf"));

    /* three panels: two rows; a val_ column without its twin and a column of
     * gaps still draw; a second run appended to the file (epochs from 0) too */
    write_text(scratch("odd.csv"), "epoch,loss,lr,val_mae\r\n0,1.0,0.01,NA\r\n1,0.5,0.01,NA\r\n"
                                   "0,0.9,0.005,NA\r\n1,0.4,0.005,NA\r\n");
    EXPECT(0, "", "history '%s' --dpi 72 -o '%s'", scratch("odd.csv"), scratch("odd.png"));
    check_png(scratch("odd.png"), &w, &h);
    ck_assert_uint_eq(w, 960);
    ck_assert_uint_eq(h, 640);
    /* a header and no epochs: empty panels, not an error */
    write_text(scratch("none.csv"), "epoch,loss\r\n");
    EXPECT(0, "", "history '%s' -o '%s'", scratch("none.csv"), scratch("none.svg"));
    check_svg(scratch("none.svg"), "<svg");
    EXPECT(64, "--dpi must be between 10 and 1200", "history '%s' --dpi 5000 -o x.png", scratch("run.csv"));
    check_no_leftovers();
}
END_TEST

/* ---- builds without a renderer ------------------------------------------------------------------ */

static int skipped(const char *what)
{
    printf("SKIPPED: this build has no %s; checked that modelinspect says so\n", what);
    return 77;
}

/* Without the renderer: the command must say what the build lacks. */
static bool says_missing(const char *args, const char *message)
{
    int rc = shell(args);
    if (rc == 2 && strstr(out_text, message)) return true;
    printf("FAIL: modelinspect %s exited %d, wanted 2 and '%s':\n%s", args, rc, message, out_text);
    return false;
}

int main(int argc, char **argv)
{
    const char *part = argc > 1 ? argv[1] : "";
    char args[8192];
    if (strcmp(part, "graph") != 0 && strcmp(part, "history") != 0) {
        fprintf(stderr, "usage: test_pictures graph|history\n");
        return 2;
    }
    if (strcmp(part, "graph") == 0 && !HAVE_GRAPHVIZ) {
        snprintf(args, sizeof args, "graph '%s' --format png -o '%s'", tu_data("keras/func_conv2d_bn_avgpool_k2.10.0.h5"),
                 scratch("x.png"));
        if (!says_missing(args, "built without Graphviz (libgraphviz-dev)")) return 1;
        return skipped("Graphviz (meson feature 'graphviz')");
    }
    Suite *s = suite_create("pictures");
    TCase *tc = tcase_create(part);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    if (strcmp(part, "graph") == 0) {
        tcase_add_test(tc, graph_writes_png_svg_and_pdf);
        tcase_add_test(tc, graph_picture_errors);
        tcase_add_test(tc, graph_survives_graphviz_ortho_failures);
    } else {
        tcase_add_test(tc, history_reads_a_csv_logger_file); /* the text part needs no Cairo */
        if (HAVE_CAIRO) tcase_add_test(tc, history_draws_the_curves);
    }
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    kc_release_caches();
    if (failed) return 1;
    if (strcmp(part, "history") == 0 && !HAVE_CAIRO) {
        FILE *f = fopen(scratch("k.csv"), "wb");
        if (!f || fputs(keras_log, f) < 0 || fclose(f) != 0) return 1;
        snprintf(args, sizeof args, "history '%s' -o '%s'", scratch("k.csv"), scratch("k.png"));
        if (!says_missing(args, "built without Cairo (libcairo2-dev)")) return 1;
        return skipped("Cairo (meson feature 'cairo'): the text summary passed, the pictures were not tested");
    }
    return 0;
}
