/* The public header compiles alone in strict ISO C (no extensions, no warnings). */
#include <nplm/nplm.h>
#include <string.h>

int main(void) {
  return strcmp(nplm_version_string(), NPLM_VERSION_STRING) == 0 ? 0 : 1;
}
