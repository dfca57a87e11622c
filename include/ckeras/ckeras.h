/* Alias of the umbrella header, for code that includes <ckeras/ckeras.h>. */
#include "../ckeras.h"
