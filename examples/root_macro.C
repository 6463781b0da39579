// ROOT macro: the NPLM test on a branch of a TTree (or on plain vectors), from the ROOT prompt.
//
//   root -l -b -q 'examples/root_macro.C("reference.root", "data.root", "events", "mass")'
//
// libnplm is loaded with R__LOAD_LIBRARY; ROOT finds it on LD_LIBRARY_PATH (or give the full
// path of libnplm.so). The header path comes from ROOT_INCLUDE_PATH or a gInterpreter call:
//   export ROOT_INCLUDE_PATH=$(pkg-config --variable=includedir nplm)
// ROOT is not packaged for Debian, so the test suite compiles this file as C++ against the
// header (everything ROOT-specific is inside __CLING__ blocks) and runs nplm_root_demo().
#ifdef __CLING__
R__LOAD_LIBRARY(libnplm)
#include "TFile.h"
#include "TTree.h"
#endif

#include <nplm/nplm.hpp>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

// t, chi2 p-value and Z for one-dimensional reference and data samples.
double nplm_root_test(const std::vector<double> &ref, const std::vector<double> &data,
                      double n_expected) {
  nplm::Model family = nplm::Model::mlp({1, 4, 1}, 9.0);
  nplm::Test test(family);
  test.set_reference(ref.data(), ref.size(), 1, nullptr, n_expected);
  test.set(NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB);
  double t = test.run(data.data(), data.size(), 1);
  double p = nplm_chi2_sf(t, 13.0);
  std::printf("NPLM: t = %.4f, p = %.3g, Z = %.2f\n", t, p, nplm_z_from_p(p));
  return t;
}

// Without ROOT files: generated exponential samples (what the test suite runs).
double nplm_root_demo() {
  std::mt19937_64 gen(3);
  std::exponential_distribution<double> expo(1.0);
  std::vector<double> ref(20000), data(200);
  for (double &x : ref) x = expo(gen);
  for (double &x : data) x = expo(gen);
  return nplm_root_test(ref, data, 200.0);
}

#ifdef __CLING__
// Reads one branch of a tree from each file; N(R0) is the data's event count here (use your
// normalisation instead).
void root_macro(const char *ref_file, const char *data_file, const char *tree, const char *branch) {
  auto read = [&](const char *path) {
    std::vector<double> v;
    TFile f(path);
    TTree *t = nullptr;
    f.GetObject(tree, t);
    if (!t) return v;
    t->SetEstimate(t->GetEntries() + 1);
    Long64_t n = t->Draw(branch, "", "goff");
    v.assign(t->GetV1(), t->GetV1() + n);
    return v;
  };
  std::vector<double> ref = read(ref_file), data = read(data_file);
  nplm_root_test(ref, data, (double)data.size());
}
#endif
