/* modelinspect history --format svg|png|pdf: the curves of a training run,
 * drawn with Cairo. One panel per logged quantity (loss first), the
 * training values solid and the validation values ("val_" twin) dashed in
 * the same colour, ticks at 1-2-5 steps, a legend in the emptiest corner.
 *
 * Why Cairo and a small axis layer rather than PLplot, the plotting
 * library Debian also offers: Debian's libplplot-dev pulls in Qt, wxWidgets
 * and gfortran to build, its PNG and SVG output come from driver modules
 * loaded at run time from a separate package (plplot-driver-cairo, which
 * dh_shlibdeps cannot see), and its error path calls exit() from inside the
 * library. Cairo is already a dependency of Graphviz' renderer, writes SVG,
 * PNG and PDF from one drawing, reports errors as statuses, and a line
 * chart needs little beyond it: nice tick steps, a legend, a dash pattern
 * (about 300 lines here). */
#include "history.h"

#include <cairo.h>
#if CAIRO_HAS_SVG_SURFACE
#include <cairo-svg.h>
#endif
#if CAIRO_HAS_PDF_SURFACE
#include <cairo-pdf.h>
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sizes in points (1/72 inch); a PNG has dpi/72 pixels per point. */
#define PANEL_W 480.0
#define PANEL_H 320.0
#define MARGIN_LEFT 64.0
#define MARGIN_RIGHT 18.0
#define MARGIN_TOP 30.0
#define MARGIN_BOTTOM 44.0
#define INSET 8.0           /* data never touches the frame */
#define MARKERS_UP_TO 15    /* epochs: few enough to mark each point */
#define MAX_PNG_PIXELS (25L * 1000 * 1000) /* 100 MB of RGB24 */

/* matplotlib's "tab10" colours, one per panel */
static const double palette[][3] = {
    {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173}, {0.839, 0.153, 0.157},
    {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294}, {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498},
    {0.737, 0.741, 0.133}, {0.090, 0.745, 0.812},
};
#define N_COLOURS (sizeof palette / sizeof palette[0])

bool history_plot_available(void) { return true; }

/* ---- axes ---------------------------------------------------------------------------------- */

/* An axis from lo to hi with ticks every step, labels with `decimals`
 * digits after the point (-1: %g, for very large or small values). */
typedef struct axis {
    double lo, hi, step;
    int decimals;
} axis;

/* Heckbert's nice numbers: 1, 2, 5 or 10 times a power of ten. */
static double nice_step(double range, int ticks)
{
    double raw = range / ticks, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* The data's range (padded by 5% when pad, as matplotlib does), ticks at
 * the multiples of a nice step inside it. */
static axis make_axis(double lo, double hi, int ticks, bool integers, bool pad)
{
    if (!(lo <= hi)) lo = 0, hi = 1; /* nothing finite */
    if (lo == hi) {
        double d = integers ? 1 : lo != 0 ? fabs(lo) * 0.1 : 1;
        lo -= d, hi += d;
    }
    if (pad) {
        double d = (hi - lo) * 0.05;
        lo -= d, hi += d;
    }
    axis a = {.lo = lo, .hi = hi, .step = nice_step(hi - lo, ticks)};
    if (integers && a.step < 1) a.step = 1;
    double big = fmax(fabs(a.lo), fabs(a.hi));
    a.decimals = big >= 1e6 || a.step < 1e-4 ? -1 : a.step >= 1 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
    return a;
}

/* The first tick: the smallest multiple of step in the axis. */
static double first_tick(const axis *a) { return ceil(a->lo / a->step - 1e-9) * a->step; }

static void tick_text(const axis *a, double v, char *buf, size_t size)
{
    if (fabs(v) < a->step * 1e-9) v = 0; /* no "-0.0" */
    if (a->decimals < 0) snprintf(buf, size, "%g", v);
    else snprintf(buf, size, "%.*f", a->decimals, v);
}

/* ---- one panel ----------------------------------------------------------------------------- */

typedef struct frame {
    double x, y, w, h; /* the plot area */
    axis ax, ay;
} frame;

static double px(const frame *fr, double v)
{
    return fr->x + INSET + (v - fr->ax.lo) / (fr->ax.hi - fr->ax.lo) * (fr->w - 2 * INSET);
}
static double py(const frame *fr, double v)
{
    return fr->y + fr->h - INSET - (v - fr->ay.lo) / (fr->ay.hi - fr->ay.lo) * (fr->h - 2 * INSET);
}

static void text_at(cairo_t *cr, const char *s, double x, double y, double align_x, double align_y)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - e.x_bearing - e.width * align_x, y - e.y_bearing - e.height * align_y);
    cairo_show_text(cr, s);
}

/* Centred on x with its baseline at y: titles line up whatever their letters. */
static void text_on_baseline(cairo_t *cr, const char *s, double x, double y)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - e.x_bearing - e.width / 2, y);
    cairo_show_text(cr, s);
}

static void set_font(cairo_t *cr, double size, bool bold)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static void draw_axes(cairo_t *cr, const frame *fr, const char *title)
{
    char label[64];
    set_font(cr, 10, false);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_line_width(cr, 0.6);
    for (double v = first_tick(&fr->ay); v <= fr->ay.hi + fr->ay.step * 1e-6; v += fr->ay.step) {
        double y = py(fr, v);
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88); /* grid */
        cairo_move_to(cr, fr->x, y);
        cairo_line_to(cr, fr->x + fr->w, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        tick_text(&fr->ay, v, label, sizeof label);
        text_at(cr, label, fr->x - 6, y, 1.0, 0.5);
    }
    for (double v = first_tick(&fr->ax); v <= fr->ax.hi + fr->ax.step * 1e-6; v += fr->ax.step) {
        double x = px(fr, v);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_move_to(cr, x, fr->y + fr->h);
        cairo_line_to(cr, x, fr->y + fr->h + 4);
        cairo_stroke(cr);
        tick_text(&fr->ax, v, label, sizeof label);
        text_at(cr, label, x, fr->y + fr->h + 7, 0.5, 0.0);
    }
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, fr->x, fr->y, fr->w, fr->h);
    cairo_stroke(cr);
    text_at(cr, "epoch", fr->x + fr->w / 2, fr->y + fr->h + 24, 0.5, 0.0);
    set_font(cr, 13, true);
    text_on_baseline(cr, title, fr->x + fr->w / 2, fr->y - 10);
}

static void set_style(cairo_t *cr, const double *rgb, bool dashed)
{
    static const double dash[] = {6.0, 4.0};
    cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    cairo_set_line_width(cr, 1.8);
    cairo_set_dash(cr, dash, dashed ? 2 : 0, 0);
}

/* A line through the finite points; it breaks at gaps and where the epoch
 * does not increase (a second run appended to the same file). */
static void draw_series(cairo_t *cr, const frame *fr, const history *h, const history_series *s, const double *rgb,
                        bool dashed)
{
    set_style(cr, rgb, dashed);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    bool open = false;
    for (int r = 0; r < h->n_rows; r++) {
        double e = h->epochs[r], v = s->values[r];
        bool ok = isfinite(e) && isfinite(v);
        if (ok && open && e > h->epochs[r - 1]) cairo_line_to(cr, px(fr, e), py(fr, v));
        else if (ok) cairo_move_to(cr, px(fr, e), py(fr, v));
        open = ok;
    }
    cairo_stroke(cr);
    if (h->n_rows > MARKERS_UP_TO) return;
    cairo_set_dash(cr, NULL, 0, 0);
    for (int r = 0; r < h->n_rows; r++)
        if (isfinite(h->epochs[r]) && isfinite(s->values[r])) {
            cairo_new_sub_path(cr);
            cairo_arc(cr, px(fr, h->epochs[r]), py(fr, s->values[r]), 2.6, 0, 6.283185307179586);
        }
    cairo_fill(cr);
}

/* How many of the series' points (and points between them) fall in the
 * rectangle: the legend goes where this is smallest. */
static int covered(const frame *fr, const history *h, const history_panel *p, double x, double y, double w, double hgt)
{
    int n = 0;
    const history_series *both[2] = {p->train, p->val};
    for (int k = 0; k < 2; k++) {
        if (!both[k]) continue;
        for (int r = 0; r < h->n_rows; r++)
            for (int sub = 0; sub < 8 && (sub == 0 || r + 1 < h->n_rows); sub++) {
                double t = sub / 8.0, e = h->epochs[r], v = both[k]->values[r];
                if (sub) e += t * (h->epochs[r + 1] - e), v += t * (both[k]->values[r + 1] - v);
                if (!isfinite(e) || !isfinite(v)) continue;
                double cx = px(fr, e), cy = py(fr, v);
                n += cx >= x && cx <= x + w && cy >= y && cy <= y + hgt;
            }
    }
    return n;
}

static void draw_legend(cairo_t *cr, const frame *fr, const history *h, const history_panel *p, const double *rgb)
{
    const history_series *entries[2];
    bool dashed[2];
    int n = 0;
    if (p->train) entries[n] = p->train, dashed[n++] = false;
    if (p->val) entries[n] = p->val, dashed[n++] = true;
    set_font(cr, 10, false);
    double text_w = 0;
    for (int i = 0; i < n; i++) {
        cairo_text_extents_t e;
        cairo_text_extents(cr, entries[i]->name, &e);
        text_w = fmax(text_w, e.x_advance);
    }
    double w = 24 + 6 + text_w + 16, hgt = 8 + 15 * n, pad = 6;
    double xs[2] = {fr->x + fr->w - w - pad, fr->x + pad}, ys[2] = {fr->y + pad, fr->y + fr->h - hgt - pad};
    double bx = xs[0], by = ys[0];
    int best = -1;
    for (int cy = 0; cy < 2; cy++) /* top right, top left, bottom right, bottom left */
        for (int cx = 0; cx < 2; cx++) {
            int c = covered(fr, h, p, xs[cx], ys[cy], w, hgt);
            if (best < 0 || c < best) best = c, bx = xs[cx], by = ys[cy];
        }
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_rectangle(cr, bx, by, w, hgt);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
    cairo_set_line_width(cr, 0.8);
    cairo_stroke(cr);
    for (int i = 0; i < n; i++) {
        double y = by + 4 + 15 * i + 7.5;
        set_style(cr, rgb, dashed[i]);
        cairo_move_to(cr, bx + 8, y);
        cairo_line_to(cr, bx + 32, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text_at(cr, entries[i]->name, bx + 38, y, 0.0, 0.5);
    }
}

static void draw_panel(cairo_t *cr, double x0, double y0, const history *h, const history_panel *p, const double *rgb)
{
    double lo = INFINITY, hi = -INFINITY, elo = INFINITY, ehi = -INFINITY;
    const history_series *both[2] = {p->train, p->val};
    for (int r = 0; r < h->n_rows; r++) {
        if (!isfinite(h->epochs[r])) continue;
        for (int k = 0; k < 2; k++) {
            double v = both[k] ? both[k]->values[r] : NAN;
            if (!isfinite(v)) continue;
            lo = fmin(lo, v), hi = fmax(hi, v);
            elo = fmin(elo, h->epochs[r]), ehi = fmax(ehi, h->epochs[r]);
        }
    }
    frame fr = {.x = x0 + MARGIN_LEFT, .y = y0 + MARGIN_TOP, .w = PANEL_W - MARGIN_LEFT - MARGIN_RIGHT,
                .h = PANEL_H - MARGIN_TOP - MARGIN_BOTTOM};
    fr.ax = make_axis(elo, ehi, 6, true, false);
    fr.ay = make_axis(lo, hi, 5, false, true);
    draw_axes(cr, &fr, p->train ? p->train->name : p->val->name);
    cairo_save(cr);
    cairo_rectangle(cr, fr.x, fr.y, fr.w, fr.h);
    cairo_clip(cr);
    for (int k = 0; k < 2; k++)
        if (both[k]) draw_series(cr, &fr, h, both[k], rgb, k == 1);
    if (!(lo <= hi)) {
        set_font(cr, 11, false);
        cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
        text_at(cr, "no finite values", fr.x + fr.w / 2, fr.y + fr.h / 2, 0.5, 0.5);
    }
    cairo_restore(cr);
    draw_legend(cr, &fr, h, p, rgb);
}

/* ---- the figure ---------------------------------------------------------------------------- */

static cairo_status_t write_to_file(void *closure, const unsigned char *data, unsigned int length)
{
    return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static void draw_figure(cairo_t *cr, const history *h, const history_panel *panels, int n, int cols)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr); /* every pixel, also the last partly covered row of a PNG */
    for (int i = 0; i < n; i++)
        draw_panel(cr, (i % cols) * PANEL_W, (i / cols) * PANEL_H, h, &panels[i], palette[i % N_COLOURS]);
}

int history_plot(const history *h, picture_format format, double dpi, FILE *out)
{
    history_panel *panels = malloc((size_t)(h->n_series > 0 ? h->n_series : 1) * sizeof(*panels));
    if (!panels) return inspect_fail(EXIT_INVALID, "out of memory");
    int n = history_panels(h, panels), cols = n > 1 ? 2 : 1, rows = (n + cols - 1) / cols;
    double w = cols * PANEL_W, hgt = rows * PANEL_H, scale = dpi / 72.0;
    cairo_surface_t *surface = NULL;
    if (format == PICTURE_PNG) {
        double pw = ceil(w * scale), ph = ceil(hgt * scale);
        if (pw > 32767 || ph > 32767 || pw * ph > (double)MAX_PNG_PIXELS) {
            free(panels);
            return inspect_fail(EXIT_INVALID, "%d panels at %g dpi make a PNG of %.0f x %.0f pixels, too large: "
                                              "lower --dpi or use --format svg or pdf", n, dpi, pw, ph);
        }
        surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)pw, (int)ph);
#if CAIRO_HAS_SVG_SURFACE
    } else if (format == PICTURE_SVG) {
        surface = cairo_svg_surface_create_for_stream(write_to_file, out, w, hgt);
#endif
#if CAIRO_HAS_PDF_SURFACE
    } else if (format == PICTURE_PDF) {
        surface = cairo_pdf_surface_create_for_stream(write_to_file, out, w, hgt);
#endif
    } else {
        free(panels);
        return inspect_fail(EXIT_INVALID, "this Cairo cannot write %s", picture_format_name(format));
    }
    cairo_t *cr = cairo_create(surface);
    if (format == PICTURE_PNG) cairo_scale(cr, scale, scale);
    draw_figure(cr, h, panels, n, cols);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st == CAIRO_STATUS_SUCCESS && format == PICTURE_PNG) st = cairo_surface_write_to_png_stream(surface, write_to_file, out);
    cairo_surface_finish(surface); /* SVG and PDF are written here */
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(surface);
    cairo_surface_destroy(surface);
    free(panels);
    if (st != CAIRO_STATUS_SUCCESS) return inspect_fail(EXIT_INVALID, "cairo: %s", cairo_status_to_string(st));
    return EXIT_OK;
}
