/* The processor a benchmark ran on, for its machine-readable output: the figures of
 * bench/RESULTS.md come from more than one kind of machine. */
#ifndef NPLM_BENCH_MACHINE_H
#define NPLM_BENCH_MACHINE_H

#include <stdio.h>
#include <string.h>

/* The "model name" line of /proc/cpuinfo, JSON-safe (quotes and backslashes dropped), or
 * "unknown" where there is none. */
static const char *bench_cpu_model(void) {
  static char model[128];
  if (model[0]) return model;
  snprintf(model, sizeof model, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return model;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0) continue;
    const char *v = strchr(line, ':');
    if (!v) break;
    v++;
    while (*v == ' ' || *v == '\t') v++;
    size_t k = 0;
    for (; *v && *v != '\n' && k + 1 < sizeof model; v++)
      if (*v != '"' && *v != '\\' && (unsigned char)*v >= 0x20) model[k++] = *v;
    model[k] = '\0';
    if (k == 0) snprintf(model, sizeof model, "unknown");
    break;
  }
  fclose(f);
  return model;
}

#endif
