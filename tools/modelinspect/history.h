/* modelinspect history: a training run as Keras' CSVLogger wrote it, and
 * the curves drawn from it. */
#ifndef MODELINSPECT_HISTORY_H
#define MODELINSPECT_HISTORY_H

#include "picture.h"

/* Bounds on what a file may ask for (it is untrusted input). */
#define HISTORY_MAX_COLUMNS 256
#define HISTORY_MAX_ROWS 1000000
#define HISTORY_MAX_VALUES (16L * 1024 * 1024) /* rows x columns: 128 MB of doubles */

/* One logged quantity: "loss", "val_accuracy", ... */
typedef struct history_series {
    char *name;
    double *values; /* n_rows of them; NAN where the file has none ("NA", "", a list) */
} history_series;

typedef struct history {
    int n_rows;
    double *epochs;          /* the "epoch" column (the row index when the file has none) */
    bool epoch_column;       /* the file has an "epoch" column */
    history_series *series;  /* every other column, in file order */
    int n_series;
} history;

/* Read a CSVLogger file: a header row, then one row per epoch, fields
 * separated by sep and quoted as Python's csv module quotes them, lines
 * ending in \r\n or \n. Values are Python reprs of floats ("0.25",
 * "1e-05", "nan", "inf"). Prints the error (naming the line); returns
 * EXIT_OK or EXIT_INVALID. */
int history_read(const char *path, char sep, history *h);
void history_free(history *h);

/* The panels of a plot: one per quantity, its validation twin ("val_" +
 * name) in the same panel; "loss" first, then the file's order. */
typedef struct history_panel {
    const history_series *train; /* NULL for a val_ column without its twin */
    const history_series *val;   /* NULL when there is none */
} history_panel;
/* Fills panels (room for h->n_series); returns their number. */
int history_panels(const history *h, history_panel *panels);

/* ---- drawing (history_plot_cairo.c or history_plot_none.c) ---- */

bool history_plot_available(void);
/* Draw the panels as a grid of line charts (training solid, validation
 * dashed, a legend each), dpi: pixels per inch of PNGs. Prints the error;
 * returns EXIT_OK or EXIT_INVALID. */
int history_plot(const history *h, picture_format format, double dpi, FILE *out);

#endif
