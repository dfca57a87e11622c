/* modelinspect: picture formats and destinations, shared by graph and
 * history. A picture is written to a temporary file next to its name and
 * renamed when complete, like ckeras' saves: a failed render (a missing
 * Graphviz plugin, a full disk) never leaves half an image behind or
 * destroys the previous one. */
#define _POSIX_C_SOURCE 200809L /* fdopen, mkstemp */
#include "picture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const format_names[] = {"text", "svg", "png", "pdf"};

const char *picture_format_name(picture_format f) { return format_names[f]; }

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    if (n < k) return false;
    for (size_t i = 0; i < k; i++) /* case-insensitive: model.PNG */
        if ((s[n - k + i] | 0x20) != (suffix[i] | 0x20)) return false;
    return true;
}

int picture_choose_format(const inspect_command *cmd, const char *name, const char *out, const char *text_name,
                          const char *text_ext, picture_format *format)
{
    *format = PICTURE_TEXT;
    if (name) {
        if (strcmp(name, text_name) == 0) return -1;
        for (int f = PICTURE_SVG; f <= PICTURE_PDF; f++)
            if (strcmp(name, format_names[f]) == 0) {
                *format = (picture_format)f;
                return -1;
            }
        return inspect_usage(cmd, "unknown --format '%s' (%s, svg, png or pdf)", name, text_name);
    }
    if (!out || (text_ext && has_suffix(out, text_ext))) return -1;
    for (int f = PICTURE_SVG; f <= PICTURE_PDF; f++) {
        char ext[8];
        snprintf(ext, sizeof ext, ".%s", format_names[f]);
        if (has_suffix(out, ext)) *format = (picture_format)f;
    }
    return -1;
}

int picture_out_open(picture_out *o, const inspect_command *cmd, const char *out, picture_format format)
{
    *o = (picture_out){0};
    if (!out || strcmp(out, "-") == 0) {
        if (format != PICTURE_TEXT && format != PICTURE_SVG && isatty(STDOUT_FILENO)) {
            return inspect_usage(cmd, "not writing a %s picture to a terminal: give -o FILE or redirect the output",
                                 picture_format_name(format));
        }
        o->f = stdout;
        return -1;
    }
    o->path = out;
    size_t n = strlen(out) + sizeof ".tmpXXXXXX";
    o->tmp = malloc(n);
    if (!o->tmp) return inspect_fail(EXIT_INVALID, "out of memory");
    snprintf(o->tmp, n, "%s.tmpXXXXXX", out);
    int fd = mkstemp(o->tmp);
    /* mkstemp makes the file private (0600); a picture gets the permissions
     * any new file of the user gets */
    mode_t mask = umask(0);
    umask(mask);
    if (fd >= 0) fchmod(fd, 0666 & ~mask);
    if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
        int rc = inspect_fail(EXIT_INVALID, "cannot write '%s': %s", out, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
        }
        free(o->tmp);
        o->tmp = NULL;
        return rc;
    }
    return -1;
}

int picture_out_commit(picture_out *o)
{
    if (!o->path) {
        if (fflush(stdout) != 0) return inspect_fail(EXIT_INVALID, "cannot write to standard output: %s", strerror(errno));
        return EXIT_OK;
    }
    int rc = EXIT_OK;
    bool written = !ferror(o->f);
    if (fclose(o->f) != 0 || !written) rc = inspect_fail(EXIT_INVALID, "cannot write '%s': %s", o->path, strerror(errno));
    else if (rename(o->tmp, o->path) != 0)
        rc = inspect_fail(EXIT_INVALID, "cannot write '%s': %s", o->path, strerror(errno));
    if (rc != EXIT_OK) unlink(o->tmp);
    free(o->tmp);
    *o = (picture_out){0};
    return rc;
}

void picture_out_abort(picture_out *o)
{
    if (o->path) {
        fclose(o->f);
        unlink(o->tmp);
        free(o->tmp);
    }
    *o = (picture_out){0};
}
