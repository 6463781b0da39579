// Compiles examples/root_macro.C as plain C++ (no ROOT) and runs its demo function.
#include "../../examples/root_macro.C"

int main() {
  double t = nplm_root_demo();
  return t > 0.0 ? 0 : 1;
}
