/* modelinspect graph --format svg|png|pdf: the DOT text that `graph`
 * prints, laid out by Graphviz' dot and rendered by its plugins (cairo for
 * PNG and PDF, core for SVG), through libgvc in this process. The DOT text
 * is the one source of the picture: what `graph | dot -Tpng` would draw is
 * what --format png draws. Graphviz' own messages ("Warning: ...") are
 * passed on to stderr, prefixed like ours.
 *
 * Graphviz asserts (aborts) on some graphs: its orthogonal edge router
 * (splines=ortho, which Keras' plot_model sets) fails on U-Net-like
 * skip connections with "maze.c: chkSgraph: Assertion ... failed". So the
 * layout runs in a child process that sends the picture back through a
 * pipe; when the child dies, the picture is drawn again with Graphviz'
 * ordinary splines, and a note says so. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "picture.h"

#include <graphviz/gvc.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

static int render_here(const char *dot, picture_format format, FILE *out)
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

typedef enum { CHILD_OK, CHILD_FAILED, CHILD_DIED } child_result;

/* render_here in a child process; the picture is read back into *buf. */
static child_result render_in_child(const char *dot, picture_format format, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fds[2];
    if (pipe(fds) != 0) return CHILD_DIED;
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return CHILD_DIED;
    }
    if (pid == 0) {
        close(fds[0]);
        FILE *w = fdopen(fds[1], "wb");
        int rc = w ? render_here(dot, format, w) : EXIT_INVALID;
        if (w && fclose(w) != 0) rc = EXIT_INVALID;
        fflush(stderr);
        _exit(rc);
    }
    close(fds[1]);
    size_t cap = 0;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (*len + (size_t)n > cap) {
            size_t ncap = cap ? cap * 2 : sizeof chunk;
            while (ncap < *len + (size_t)n) ncap *= 2;
            char *grown = realloc(*buf, ncap);
            if (!grown) break; /* the child then dies of SIGPIPE or finishes: reported below */
            *buf = grown;
            cap = ncap;
        }
        memcpy(*buf + *len, chunk, (size_t)n);
        *len += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFSIGNALED(status)) return CHILD_DIED;
    return WIFEXITED(status) && WEXITSTATUS(status) == EXIT_OK ? CHILD_OK : CHILD_FAILED;
}

int graph_render(const char *dot, picture_format format, FILE *out)
{
    char *buf;
    size_t len;
    child_result r = render_in_child(dot, format, &buf, &len);
    if (r == CHILD_DIED && strstr(dot, "splines=ortho;")) {
        free(buf);
        fputs("modelinspect: note: graphviz failed drawing orthogonal edges for this graph (a Graphviz bug); "
              "the edges are drawn as splines\n", stderr);
        char *plain = strdup(dot), *at = plain ? strstr(plain, "splines=ortho;") : NULL;
        if (!at) return inspect_fail(EXIT_INVALID, "out of memory");
        memcpy(at, "splines=true; ", 14);
        r = render_in_child(plain, format, &buf, &len);
        free(plain);
    }
    int rc = EXIT_INVALID;
    if (r == CHILD_OK)
        rc = fwrite(buf, 1, len, out) == len ? EXIT_OK : inspect_fail(EXIT_INVALID, "cannot write the picture");
    else if (r == CHILD_DIED)
        inspect_fail(EXIT_INVALID, "graphviz crashed laying out this graph (a Graphviz bug); `modelinspect graph FILE` "
                                   "prints the DOT text to draw elsewhere");
    free(buf);
    return rc;
}
