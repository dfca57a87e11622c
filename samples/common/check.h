/* How the samples stop on an error and report their checks: one kc_error
 * for the whole program, TRY for calls that return a kc_status, NN for
 * calls that return an object (NULL on failure), CHECK for what a sample
 * shows. A failed call prints "sample: what: message (context)" and exits
 * 1; a failed check prints FAIL and makes the sample exit 1 at the end. */
#ifndef CKERAS_SAMPLES_CHECK_H
#define CKERAS_SAMPLES_CHECK_H

#include <ckeras.h>

#include <stdio.h>
#include <stdlib.h>

static kc_error err;
static int failed;

static inline void die(const char *where)
{
    char buf[1024];
    fprintf(stderr, "%s: %s\n", where, kc_error_format(&err, buf, sizeof buf));
    exit(1);
}

static inline void *nn(void *p, const char *where)
{
    if (!p) die(where);
    return p;
}

#define TRY(call)                                                                                  \
    do {                                                                                           \
        if ((call) != KC_OK) die(#call);                                                           \
    } while (0)
#define NN(call) nn((call), #call)

static inline void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    failed |= !ok;
}

#endif
