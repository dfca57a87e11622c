/* ckeras: library version. */
#ifndef CKERAS_VERSION_H
#define CKERAS_VERSION_H

#include "defs.h"

KC_BEGIN_DECLS

#define KC_VERSION_MAJOR 0
#define KC_VERSION_MINOR 1
#define KC_VERSION_PATCH 0
#define KC_VERSION_STRING "0.1.0"

/* The version of the library actually linked, e.g. "0.1.0" (may differ from
 * KC_VERSION_STRING when a program runs against a newer shared library).
 * Returns: a static string. */
KC_API const char *kc_version(void);

KC_END_DECLS

#endif /* CKERAS_VERSION_H */
