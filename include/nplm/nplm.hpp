/** @file nplm.hpp
 *  @brief Optional C++11 RAII wrapper over the C API (header-only): handles that free
 *  themselves and failures thrown as nplm::Error carrying the library's message.
 *
 *  @code
 *  nplm::Model family = nplm::Model::mlp({1, 4, 1}, 9.0);
 *  nplm::Test test(family);
 *  test.set_reference(ref.data(), ref.size(), 1, nullptr, 2000.0);
 *  test.set(NPLM_OPT_OPTIMIZER, NPLM_OPTIMIZER_LBFGSB);
 *  double t = test.run(data.data(), data.size(), 1);
 *  @endcode */
#ifndef NPLM_NPLM_HPP
#define NPLM_NPLM_HPP

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "nplm/nplm.h"

/** C++ wrapper namespace. */
namespace nplm {

/** A failed libnplm call: what() is the library's message, status() its code. */
class Error : public std::runtime_error {
 public:
  /** @param s the status @param msg the message */
  Error(nplm_status_t s, const std::string &msg) : std::runtime_error(msg), status_(s) {}
  /** @return the status code of the failure. */
  nplm_status_t status() const noexcept { return status_; }

 private:
  nplm_status_t status_;
};

/** Throw an Error for a non-OK status (NPLM_ENOCONV too unless @p allow_noconv).
 *  @param s the status @param msg the message @param allow_noconv accept NPLM_ENOCONV */
inline void check(nplm_status_t s, const char *msg, bool allow_noconv = false) {
  if (s == NPLM_OK || (allow_noconv && s == NPLM_ENOCONV)) return;
  throw Error(s, msg && *msg ? msg : nplm_strerror(s));
}

/** An owned model (movable, not copyable). */
class Model {
 public:
  /** An MLP family. @param layers unit counts @param clip weight clip */
  static Model mlp(const std::vector<size_t> &layers, double clip) {
    nplm_model_t *m = nullptr;
    check(nplm_model_create_mlp(&m, layers.data(), layers.size(), clip), nplm_last_error());
    return Model(m);
  }
  /** A kernel family. @param d inputs @param m centres @param sigma width @param lambda penalty */
  static Model kernel(size_t d, size_t m, double sigma, double lambda) {
    nplm_model_t *k = nullptr;
    check(nplm_model_create_kernel(&k, d, m, sigma, lambda), nplm_last_error());
    return Model(k);
  }
  /** A model file. @param path the file */
  static Model load(const std::string &path) {
    nplm_model_t *m = nullptr;
    check(nplm_model_load(&m, path.c_str()), nplm_last_error());
    return Model(m);
  }
  /** Adopt a handle. @param m the handle (owned from now on) */
  explicit Model(nplm_model_t *m) noexcept : m_(m) {}
  /** Move. @param o the source */
  Model(Model &&o) noexcept : m_(o.m_) { o.m_ = nullptr; }
  /** Move-assign. @param o the source @return this */
  Model &operator=(Model &&o) noexcept {
    if (this != &o) {
      nplm_model_free(m_);
      m_ = o.m_;
      o.m_ = nullptr;
    }
    return *this;
  }
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;
  ~Model() { nplm_model_free(m_); }
  /** @return the C handle. */
  const nplm_model_t *get() const noexcept { return m_; }
  /** f on n events. @param x n x d events @param n events @param d features @return f */
  std::vector<double> eval(const double *x, size_t n, size_t d) const {
    std::vector<double> f(n);
    check(nplm_model_eval(m_, x, n, d, f.data()), nplm_last_error());
    return f;
  }

 private:
  nplm_model_t *m_;
};

/** An owned test (movable, not copyable). */
class Test {
 public:
  /** @param family the model family @param nuisance nuisances or nullptr */
  explicit Test(const Model &family, const nplm_nuisance_t *nuisance = nullptr) : t_(nullptr) {
    check(nplm_test_create(&t_, family.get(), nuisance), nplm_last_error());
  }
  /** Move. @param o the source */
  Test(Test &&o) noexcept : t_(o.t_) { o.t_ = nullptr; }
  Test(const Test &) = delete;
  Test &operator=(const Test &) = delete;
  ~Test() { nplm_test_free(t_); }
  /** See nplm_test_set_reference(). @param x events @param n count @param d features
   *  @param w weights or nullptr @param n_expected N(R0) */
  void set_reference(const double *x, size_t n, size_t d, const double *w, double n_expected) {
    check(nplm_test_set_reference(t_, x, n, d, w, n_expected), nplm_test_last_error(t_));
  }
  /** An integer option. @param key the key @param v the value */
  void set(nplm_option_t key, int64_t v) {
    check(nplm_test_set_int(t_, key, v), nplm_test_last_error(t_));
  }
  /** An integer option (enum values included). @param key the key @param v the value */
  void set(nplm_option_t key, int v) { set(key, static_cast<int64_t>(v)); }
  /** A double option. @param key the key @param v the value */
  void set(nplm_option_t key, double v) {
    check(nplm_test_set_double(t_, key, v), nplm_test_last_error(t_));
  }
  /** Fit and return t (a fit stopped at its iteration limit still returns its t).
   *  @param x events @param n count @param d features @param w weights or nullptr @return t */
  double run(const double *x, size_t n, size_t d, const double *w = nullptr) {
    double t = 0.0;
    check(nplm_test_run(t_, x, n, d, w, &t), nplm_test_last_error(t_), true);
    return t;
  }
  /** A result of the last run. @param key the key @return its value */
  double result(nplm_result_t key) const {
    double v = 0.0;
    check(nplm_test_result(t_, key, &v), nplm_last_error());
    return v;
  }
  /** @return the C handle. */
  nplm_test_t *get() noexcept { return t_; }

 private:
  nplm_test_t *t_;
};

}  // namespace nplm

#endif
