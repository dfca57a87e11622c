/* modelinspect graph, built without Graphviz (meson -Dgraphviz=disabled or
 * no libgraphviz-dev): DOT text only. cmd_graph says so before it gets
 * here, and points at dot(1). */
#include "picture.h"

bool graph_render_available(void) { return false; }

int graph_render(const char *dot, picture_format format, FILE *out)
{
    (void)dot, (void)out;
    return inspect_fail(EXIT_INVALID, "this modelinspect was built without Graphviz: cannot draw %s",
                        picture_format_name(format));
}
