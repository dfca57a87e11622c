/* modelinspect graph --format svg|png|pdf: the DOT text that `graph`
 * prints, laid out by Graphviz' dot and rendered by its plugins (cairo for
 * PNG and PDF, core for SVG), through libgvc in this process. The DOT text
 * is the one source of the picture: what `graph | dot -Tpng` would draw is
 * what --format png draws. Graphviz' own messages ("Warning: ...") are
 * passed on to stderr, prefixed like ours. */
#include "picture.h"

#include <graphviz/gvc.h>

#include <stdbool.h>
#include <string.h>

static bool at_line_start = true;

/* Graphviz hands a message over in pieces ("Warning", ": ", text). */
static int relay_message(char *piece)
{
    for (const char *p = piece; *p; p++) {
        if (at_line_start) fputs("modelinspect: graphviz: ", stderr);
        fputc(*p, stderr);
        at_line_start = *p == '\n';
    }
    return 0;
}

bool graph_render_available(void) { return true; }

int graph_render(const char *dot, picture_format format, FILE *out)
{
    agseterrf(relay_message);
    GVC_t *gvc = gvContext();
    if (!gvc) return inspect_fail(EXIT_INVALID, "graphviz: cannot create a context (out of memory?)");
    int rc = EXIT_INVALID;
    Agraph_t *g = agmemread(dot);
    if (!g) {
        inspect_fail(EXIT_INVALID, "graphviz could not read the DOT text (a modelinspect bug)");
    } else if (gvLayout(gvc, g, "dot") != 0) {
        inspect_fail(EXIT_INVALID, "graphviz could not lay out the graph");
    } else {
        if (gvRender(gvc, g, picture_format_name(format), out) == 0) rc = EXIT_OK;
        else inspect_fail(EXIT_INVALID, "graphviz cannot write %s here (is its cairo plugin, libgvc6's libgvplugin_pango, installed?)",
                          picture_format_name(format));
        gvFreeLayout(gvc, g);
    }
    if (g) agclose(g);
    gvFreeContext(gvc);
    if (!at_line_start) fputc('\n', stderr), at_line_start = true;
    return rc;
}
