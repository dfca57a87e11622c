/* The version string of the linked library. */
#include <ckeras/version.h>

const char *kc_version(void) { return KC_VERSION_STRING; }
