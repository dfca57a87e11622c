/* Fixture for the exports test: an internal function and a variable made
 * global by mistake (default visibility, no KC_API declaration in a public
 * header), linked into a copy of libckeras. check-exports.sh must reject
 * that library and name both. */
#define LEAK __attribute__((visibility("default")))

LEAK int kc__leaked_helper(int x);
LEAK extern int leaked_counter;

int kc__leaked_helper(int x) { return x + leaked_counter; }
int leaked_counter = 1;
