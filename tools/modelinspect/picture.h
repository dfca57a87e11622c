/* modelinspect: pictures (graph --format, history): the formats, where the
 * bytes go, and the two optional renderers. Graphviz draws the graph and
 * Cairo the training curves; each is a build option (meson features
 * 'graphviz', 'cairo'), and a build without it still has the command, which
 * then says what is missing. */
#ifndef MODELINSPECT_PICTURE_H
#define MODELINSPECT_PICTURE_H

#include "inspect.h"

typedef enum picture_format {
    PICTURE_TEXT, /* the command's text output (DOT for graph, a table for history) */
    PICTURE_SVG,
    PICTURE_PNG,
    PICTURE_PDF
} picture_format;

/* "svg", "png", "pdf" (and "dot"/"text" for PICTURE_TEXT). */
const char *picture_format_name(picture_format f);

/* The format from --format NAME, else from OUT's extension (.svg, .png,
 * .pdf; text_ext names the text format's, e.g. ".dot"), else PICTURE_TEXT.
 * text_name is the text format's name for --format ("dot"). Returns -1
 * when the command may run, else the exit code of a usage error. */
int picture_choose_format(const inspect_command *cmd, const char *name, const char *out, const char *text_name,
                          const char *text_ext, picture_format *format);

/* Where a picture goes: OUT, written to a temporary file beside it and
 * renamed when complete (an error never leaves half a file or destroys the
 * old one), or standard output when out is NULL or "-". */
typedef struct picture_out {
    FILE *f;
    const char *path; /* NULL: standard output */
    char *tmp;        /* the temporary file, renamed on commit */
} picture_out;

/* Open the destination; binary formats are not written to a terminal.
 * Returns -1 when open, else prints the error and returns the exit code. */
int picture_out_open(picture_out *o, const inspect_command *cmd, const char *out, picture_format format);
/* Flush and close; rename into place. Prints the error; EXIT_OK or EXIT_INVALID. */
int picture_out_commit(picture_out *o);
/* Close and remove the temporary file (after an error). */
void picture_out_abort(picture_out *o);

/* ---- renderers (graph_render_gvc.c or graph_render_none.c) ---- */

/* True when this build draws graphs with Graphviz's library. */
bool graph_render_available(void);
/* Lay out the DOT text with Graphviz' dot and write it to out in format.
 * Prints the error; returns EXIT_OK or EXIT_INVALID. */
int graph_render(const char *dot, picture_format format, FILE *out);

#endif
