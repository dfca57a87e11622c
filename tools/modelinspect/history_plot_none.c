/* modelinspect history, built without Cairo (meson -Dcairo=disabled or no
 * libcairo2-dev): the text summary and --json only. cmd_history says so
 * before it gets here. */
#include "history.h"

bool history_plot_available(void) { return false; }

int history_plot(const history *h, picture_format format, double dpi, FILE *out)
{
    (void)h, (void)dpi, (void)out;
    return inspect_fail(EXIT_INVALID, "this modelinspect was built without Cairo: cannot draw %s",
                        picture_format_name(format));
}
