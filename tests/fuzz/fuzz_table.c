/* libFuzzer target for the nplm command's event readers: any byte string, parsed as .npy and as
 * CSV (then a column selection), must give a table or an error, never a crash or a leak.
 * Built and run briefly by scripts/test when clang is available:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_table.c tools/table.c */
#include <stddef.h>
#include <stdint.h>

#include "../../tools/table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  table_t t;
  if (table_parse_npy(data, size, &t, err, sizeof err) == 0) table_free(&t);
  if (table_parse_csv((const char *)data, size, &t, err, sizeof err) == 0) {
    if (table_select(&t, t.d > 1 ? "1,0" : "0", err, sizeof err) == 0 && t.names)
      (void)table_select(&t, t.names[0], err, sizeof err);
    table_free(&t);
  }
  return 0;
}
