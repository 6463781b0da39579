// The public header parses as C++ (as cling does for ROOT macros) and links from C++.
#include <nplm/nplm.h>

#include <cstdio>
#include <cstring>

int main() {
  if (std::strcmp(nplm_version_string(), NPLM_VERSION_STRING) != 0) return 1;
  if (nplm_version_number() != NPLM_VERSION_NUMBER) return 1;
  const size_t layers[] = {2, 3, 1};
  nplm_model_t *m = nullptr;
  if (nplm_model_create_mlp(&m, layers, 3, 1.0) != NPLM_OK) return 1;
  const bool ok = nplm_model_num_params(m) == 13;
  nplm_model_free(m);
  nplm_status_t s = nplm_model_create_mlp(&m, layers, 1, 1.0);
  if (s != NPLM_EINVAL || m != nullptr || std::strstr(nplm_last_error(), "n_layers") == nullptr)
    return 1;
  std::printf("ok - C++ consumer\n");
  return ok ? 0 : 1;
}
