/* Event tables for the nplm command: NumPy .npy (format versions 1-3, float64/float32, either
 * byte order, C or Fortran order, 1-D or 2-D) and CSV (optional header line, '#' comments),
 * with column selection by name or index. Readers never crash on bad input: every failure is a
 * message in err. Public-API-free: plain C11 and libc. */
#ifndef NPLM_TOOLS_TABLE_H
#define NPLM_TOOLS_TABLE_H

#include <stddef.h>

typedef struct table {
  double *x;     /* n x d, row-major */
  size_t n, d;
  char **names;  /* d column names (CSV header) or NULL */
} table_t;

/* Read path: .npy (by magic), HDF5 (by magic, or PATH:DATASET; when built with libhdf5), else
 * CSV. columns: NULL (all) or a comma-separated list of indices or header names. Returns 0, or
 * -1 with a message in err. */
int table_read(const char *path, const char *columns, table_t *out, char *err, size_t errlen);

/* Parse a .npy image already in memory (used by the reader and the fuzz target). */
int table_parse_npy(const unsigned char *buf, size_t size, table_t *out, char *err,
                    size_t errlen);
/* Parse CSV text (not necessarily NUL-terminated). */
int table_parse_csv(const char *buf, size_t size, table_t *out, char *err, size_t errlen);
/* Keep the selected columns (see table_read). */
int table_select(table_t *t, const char *columns, char *err, size_t errlen);

/* Write n x d row-major doubles as a version 1.0 .npy file ('<f8', C order; 1-D when d == 1
 * and one_d). Returns 0 or -1 with a message. */
int table_write_npy(const char *path, const double *x, size_t n, size_t d, int one_d, char *err,
                    size_t errlen);

/* HDF5 (when built with it): a numeric 1-D or 2-D dataset; dataset NULL or "" = the only
 * dataset at the file's root. table_read routes "FILE.h5:DATASET" and HDF5 files here. */
int table_read_hdf5(const char *path, const char *dataset, table_t *out, char *err,
                    size_t errlen);

void table_free(table_t *t);

#endif
