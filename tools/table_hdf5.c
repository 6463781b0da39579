/* HDF5 datasets for the nplm command (built when libhdf5 is found, meson option hdf5):
 * a 1-D (n) or 2-D (n x d) numeric dataset, read as float64 whatever its stored type. */
#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

typedef struct only {
  char name[256];
  int count;
} only_t;

static herr_t find_dataset(hid_t g, const char *name, const H5L_info_t *info, void *op) {
  (void)info;
  only_t *o = op;
  H5O_info_t oi;
  if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) >= 0 && oi.type == H5O_TYPE_DATASET) {
    if (o->count++ == 0) snprintf(o->name, sizeof o->name, "%s", name);
  }
  return 0;
}

int table_read_hdf5(const char *path, const char *dataset, table_t *out, char *err,
                    size_t errlen) {
  memset(out, 0, sizeof *out);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors come back as messages, never printed */
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return fail(err, errlen, "cannot open '%s' as HDF5", path);
  only_t o = {{0}, 0};
  if (!dataset || !*dataset) {
    H5Literate(f, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, find_dataset, &o);
    if (o.count != 1) {
      H5Fclose(f);
      return fail(err, errlen, "'%s' has %d datasets at its root: name one as FILE:DATASET",
                  path, o.count);
    }
    dataset = o.name;
  }
  int rc = 0;
  hid_t ds = H5Dopen2(f, dataset, H5P_DEFAULT), sp = -1, ty = -1;
  if (ds < 0) rc = fail(err, errlen, "'%s' has no dataset '%s'", path, dataset);
  if (!rc) {
    sp = H5Dget_space(ds);
    ty = H5Dget_type(ds);
    H5T_class_t cl = H5Tget_class(ty);
    int nd = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[2] = {0, 1};
    if (cl != H5T_FLOAT && cl != H5T_INTEGER)
      rc = fail(err, errlen, "dataset '%s' is not numeric", dataset);
    else if (nd < 1 || nd > 2)
      rc = fail(err, errlen, "dataset '%s' has %d dimensions (events are n or n x d)", dataset,
                nd);
    else if (H5Sget_simple_extent_dims(sp, dims, NULL) < 0)
      rc = fail(err, errlen, "dataset '%s': cannot read its shape", dataset);
    else if (dims[1] < 1 || dims[1] > 4096 || dims[0] > ((hsize_t)1 << 34) / dims[1])
      rc = fail(err, errlen, "dataset '%s' is too large or has no columns", dataset);
    if (!rc) {
      size_t cells = (size_t)(dims[0] * dims[1]);
      out->x = malloc((cells ? cells : 1) * sizeof *out->x);
      if (!out->x) rc = fail(err, errlen, "out of memory");
      else if (cells && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->x) < 0)
        rc = fail(err, errlen, "dataset '%s': read failed", dataset);
      out->n = (size_t)dims[0];
      out->d = (size_t)dims[1];
    }
  }
  if (ty >= 0) H5Tclose(ty);
  if (sp >= 0) H5Sclose(sp);
  if (ds >= 0) H5Dclose(ds);
  H5Fclose(f);
  if (rc) table_free(out);
  return rc;
}
