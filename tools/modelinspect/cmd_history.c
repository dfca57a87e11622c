/* modelinspect history: look at a training run without Python. The file is
 * what a CSVLogger callback wrote (Keras' or ckeras'); the command prints
 * each logged quantity's first, last, lowest and highest values, or draws
 * the curves (history_plot_cairo.c) as Keras users draw History objects
 * with matplotlib: loss and each metric per epoch, validation dashed. */
#include "history.h"

#include <math.h>
#include <string.h>

static int run_history(int argc, char **argv);

const inspect_command cmd_history = {
    .name = "history",
    .synopsis = "history FILE.csv [--format text|svg|png|pdf] [-o OUT] [--separator C] [--dpi N] [--json]",
    .help = "The training curves a CSVLogger callback wrote: one row per epoch, a column\n"
            "per logged value (loss, metrics, their val_ twins, the learning rate).\n"
            "Prints, for each value, its first, last, lowest and highest (with the epoch),\n"
            "or draws one panel per value, validation dashed next to training:\n"
            "    modelinspect history training.csv -o curves.png\n\n"
            "  --format F           text (default), svg, png or pdf; without it, the\n"
            "                       extension of OUT decides (.svg, .png, .pdf)\n"
            "  -o, --output OUT     write to OUT (default: standard output)\n"
            "  --separator C        the CSVLogger's separator (default ',')\n"
            "  --dpi N              pixels per inch of PNG pictures (default 100)\n"
            "  --json               {\"file\", \"epochs\": [...], \"series\": {name: [value or null]}}\n\n"
            "Values that are not numbers (\"NA\", lists) are gaps. Exit 0, 2 when the file\n"
            "cannot be read or is not a CSV log or the picture cannot be drawn (also in\n"
            "builds without Cairo), 64 on usage errors.\n",
    .run = run_history,
    .isolation = ISOLATE_NOTHING,
};

static void value_text(double v, char *buf, size_t size)
{
    if (isfinite(v)) inspect_format(buf, size, "%.6g", v);
    else inspect_format(buf, size, "-");
}

static int print_summary(FILE *f, const char *path, const history *h)
{
    fprintf(f, "history: %s, %d epoch%s\n\n", path, h->n_rows, h->n_rows == 1 ? "" : "s");
    inspect_table t;
    table_init(&t, 6, (const char *const[]){"value", "first", "last", "min", "max", "epochs"});
    for (int c = 1; c < 6; c++) t.right[c] = true;
    for (int c = 0; c < h->n_series; c++) {
        const history_series *s = &h->series[c];
        double first = NAN, last = NAN, lo = INFINITY, hi = -INFINITY;
        double lo_at = NAN, hi_at = NAN;
        int n = 0;
        for (int r = 0; r < h->n_rows; r++) {
            double v = s->values[r];
            if (!isfinite(v)) continue;
            if (n++ == 0) first = v;
            last = v;
            if (v < lo) lo = v, lo_at = h->epochs[r];
            if (v > hi) hi = v, hi_at = h->epochs[r];
        }
        char cells[5][64], lo_v[32], hi_v[32], at[32];
        value_text(first, cells[0], sizeof cells[0]);
        value_text(last, cells[1], sizeof cells[1]);
        value_text(n ? lo : NAN, lo_v, sizeof lo_v);
        value_text(n ? hi : NAN, hi_v, sizeof hi_v);
        value_text(lo_at, at, sizeof at);
        inspect_format(cells[2], sizeof cells[2], n ? "%s (epoch %s)" : "%s", lo_v, at);
        value_text(hi_at, at, sizeof at);
        inspect_format(cells[3], sizeof cells[3], n ? "%s (epoch %s)" : "%s", hi_v, at);
        inspect_format(cells[4], sizeof cells[4], "%d", n);
        table_row(&t, (const char *const[]){s->name, cells[0], cells[1], cells[2], cells[3], cells[4]});
    }
    table_print(&t, f);
    bool oom = t.oom;
    table_free(&t);
    return oom ? inspect_fail(EXIT_INVALID, "out of memory") : EXIT_OK;
}

static json_t *number_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static int print_json(const char *path, const history *h)
{
    json_t *epochs = json_array(), *series = json_object();
    for (int r = 0; r < h->n_rows; r++) json_array_append_new(epochs, number_or_null(h->epochs[r]));
    for (int c = 0; c < h->n_series; c++) {
        json_t *values = json_array();
        for (int r = 0; r < h->n_rows; r++) json_array_append_new(values, number_or_null(h->series[c].values[r]));
        json_object_set_new(series, h->series[c].name, values);
    }
    return inspect_emit_json(json_pack("{s:s, s:o, s:o}", "file", path, "epochs", epochs, "series", series));
}

/* The summary or a picture, into OUT (whole or not at all) or to standard output. */
static int emit(const char *path, const history *h, picture_format format, double dpi, const char *out)
{
    if (format != PICTURE_TEXT && !history_plot_available())
        return inspect_fail(EXIT_INVALID,
                            "this modelinspect was built without Cairo (libcairo2-dev), so it cannot draw "
                            "--format %s; the text summary and --json work",
                            picture_format_name(format));
    picture_out o;
    int rc = picture_out_open(&o, &cmd_history, out, format);
    if (rc >= 0) return rc;
    rc = format == PICTURE_TEXT ? print_summary(o.f, path, h) : history_plot(h, format, dpi, o.f);
    if (rc != EXIT_OK) {
        picture_out_abort(&o);
        return rc;
    }
    return picture_out_commit(&o);
}

static int run_history(int argc, char **argv)
{
    const char *file = NULL, *format_name = NULL, *out = NULL, *sep = ",";
    bool as_json = false;
    double dpi = 100;
    const inspect_opt opts[] = {
        {"--json", OPT_FLAG, &as_json},     {"--format", OPT_STRING, &format_name}, {"-o", OPT_STRING, &out},
        {"--output", OPT_STRING, &out},     {"--separator", OPT_STRING, &sep},      {"--dpi", OPT_NUMBER, &dpi},
    };
    int rc = inspect_parse(&cmd_history, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), &file, 1, 1,
                           "missing FILE.csv");
    if (rc >= 0) return rc;
    picture_format format;
    rc = picture_choose_format(&cmd_history, format_name, out, "text", NULL, &format);
    if (rc >= 0) return rc;
    if (strlen(sep) != 1 || sep[0] == '"' || sep[0] == '\n' || sep[0] == '\r')
        return inspect_usage(&cmd_history, "--separator must be one character (not a quote or newline)");
    if (dpi < 10 || dpi > 1200) return inspect_usage(&cmd_history, "--dpi must be between 10 and 1200");
    if (as_json && (format != PICTURE_TEXT || out))
        return inspect_usage(&cmd_history, "--json prints to standard output; not with --format or -o");
    history h;
    rc = history_read(file, sep[0], &h);
    if (rc != EXIT_OK) return rc;
    rc = as_json ? print_json(file, &h) : emit(file, &h, format, dpi, out);
    history_free(&h);
    return rc;
}
