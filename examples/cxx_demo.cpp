// A C++ consumer built with nothing but `pkg-config --cflags --libs nplm`, using the optional
// RAII wrapper nplm/nplm.hpp: the 1D benchmark's null hypothesis on a small sample, t and its
// chi2 p-value, and a failure caught as nplm::Error with the library's message.
//   c++ -std=c++11 cxx_demo.cpp $(pkg-config --cflags --libs nplm)
#include <nplm/nplm.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

int main() {
  std::mt19937_64 gen(7);
  std::exponential_distribution<double> expo(1.0);
  std::vector<double> ref(20000), data(200);
  for (double &x : ref) x = expo(gen);
  for (double &x : data) x = expo(gen);
  try {
    nplm::Model family = nplm::Model::mlp({1, 4, 1}, 9.0);
    nplm::Test test(family);
    test.set_reference(ref.data(), ref.size(), 1, nullptr, 200.0);
    test.set(NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB);
    double t = test.run(data.data(), data.size(), 1);
    double p = nplm_chi2_sf(t, 13.0);
    std::printf("t = %.4f, chi2(13) p = %.3g, Z = %.2f (%g iterations)\n", t, p,
                nplm_z_from_p(p), test.result(NPLM_RESULT_ITERATIONS));
    if (!(t > 0.0) || !std::isfinite(t)) return 1;
    test.run(data.data(), data.size(), 2);  // wrong dimension: throws
    return 1;
  } catch (const nplm::Error &e) {
    std::printf("caught %s: %s\n", nplm_status_name(e.status()), e.what());
    return e.status() == NPLM_EINVAL ? 0 : 1;
  }
}
