/* The 5D di-lepton stand-in (see dilepton.h). The model, in the order the generator applies it:
 *
 *  1. Pair mass m: Drell-Yan-like, dsigma/dm ~ m^-4.5 above 90 GeV (a power law for the
 *     falling photon/Z* continuum times parton luminosities); the Z' a Breit-Wigner of mass
 *     300 GeV and width 3 GeV; the EFT-like contact interaction the DY spectrum times its
 *     interference term 2 (m / Lambda)^2, i.e. ~ m^-2.5 (truncated at 3 TeV), a hard tail.
 *  2. Pair kinematics: transverse momentum exponential with mean 10 GeV (initial-state
 *     radiation), rapidity Normal(0, 1.2), azimuth uniform.
 *  3. Decay: massless leptons back to back in the pair rest frame with the vector-boson
 *     angular distribution 1 + cos^2(theta*), boosted to the laboratory.
 *  4. Detector: each lepton's momentum smeared by a 1% Gaussian resolution, then multiplied by
 *     the momentum scale exp(nu) of its region, barrel |eta| < 1.2 or endcaps; the pair mass is
 *     recomputed from the measured leptons.
 *  5. Acceptance: both leptons pT > 20 GeV and |eta| < 2.4, m12 > 100 GeV.
 * Outputs pT1 >= pT2 (GeV), eta1, eta2, dphi12 in [0, pi], and m12 (not an NPLM input: for the
 * signal-aware binned reference test). */
#include "dilepton.h"

#include <math.h>

#define PI 3.14159265358979323846

static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double unif(uint64_t *s) { return ((double)(next(s) >> 11) + 0.5) * 0x1.0p-53; }
static double gauss(uint64_t *s) {
  double u = unif(s), v = unif(s);
  return sqrt(-2.0 * log(u)) * cos(2.0 * PI * v);
}

void dilepton_default_config(dilepton_config_t *c) {
  c->scale_barrel = 0.0;
  c->scale_endcap = 0.0;
  c->zprime_mass = 300.0;
  c->zprime_width = 3.0;
  c->eft_lambda = 2000.0;
}

static double sample_mass(int process, const dilepton_config_t *c, uint64_t *s) {
  const double m0 = 90.0;
  if (process == DILEPTON_ZPRIME) {
    double m;
    do m = c->zprime_mass + 0.5 * c->zprime_width * tan(PI * (unif(s) - 0.5));
    while (m < m0 || m > 3.0 * c->zprime_mass);
    return m;
  }
  if (process == DILEPTON_EFT) { /* m^-2.5 on [m0, 3000]: inverse CDF of the power law */
    const double a = 1.5, lo = pow(m0, -a), hi = pow(3000.0, -a);
    return pow(lo - unif(s) * (lo - hi), -1.0 / a);
  }
  return m0 * pow(unif(s), -1.0 / 3.5); /* m^-4.5 above m0 */
}

typedef struct lepton {
  double pt, eta, phi;
} lepton_t;

/* Boost (E*, p*) by beta (|beta| < 1) to the laboratory, then measure it. */
static lepton_t boost_measure(const double ps[3], double es, const double b[3],
                              const dilepton_config_t *c, uint64_t *s) {
  const double b2 = b[0] * b[0] + b[1] * b[1] + b[2] * b[2];
  const double g = 1.0 / sqrt(1.0 - b2), bp = b[0] * ps[0] + b[1] * ps[1] + b[2] * ps[2];
  const double g2 = b2 > 0.0 ? (g - 1.0) / b2 : 0.0;
  double p[3];
  for (int i = 0; i < 3; i++) p[i] = ps[i] + (g2 * bp + g * es) * b[i];
  double pt = hypot(p[0], p[1]);
  lepton_t l = {pt, asinh(p[2] / pt), atan2(p[1], p[0])};
  l.pt *= 1.0 + 0.01 * gauss(s); /* resolution; direction kept */
  l.pt *= exp(fabs(l.eta) < 1.2 ? c->scale_barrel : c->scale_endcap);
  return l;
}

size_t dilepton_generate(int process, const dilepton_config_t *c, size_t n, uint64_t *s,
                         double *x) {
  size_t got = 0, tried = 0;
  while (got < n) {
    tried++;
    const double m = sample_mass(process, c, s);
    const double pt = -10.0 * log(unif(s)), y = 1.2 * gauss(s), phi = 2.0 * PI * unif(s);
    const double mt = sqrt(m * m + pt * pt), e = mt * cosh(y);
    const double b[3] = {pt * cos(phi) / e, pt * sin(phi) / e, mt * sinh(y) / e};
    double ct;
    do ct = 2.0 * unif(s) - 1.0;
    while (2.0 * unif(s) > 1.0 + ct * ct);
    const double st = sqrt(1.0 - ct * ct), ph = 2.0 * PI * unif(s), half = 0.5 * m;
    const double p1[3] = {half * st * cos(ph), half * st * sin(ph), half * ct};
    const double p2[3] = {-p1[0], -p1[1], -p1[2]};
    lepton_t l1 = boost_measure(p1, half, b, c, s), l2 = boost_measure(p2, half, b, c, s);
    if (l2.pt > l1.pt) {
      lepton_t t = l1;
      l1 = l2;
      l2 = t;
    }
    double dphi = fabs(l1.phi - l2.phi);
    if (dphi > PI) dphi = 2.0 * PI - dphi;
    const double m12 = sqrt(2.0 * l1.pt * l2.pt * (cosh(l1.eta - l2.eta) - cos(dphi)));
    if (l2.pt <= 20.0 || fabs(l1.eta) >= 2.4 || fabs(l2.eta) >= 2.4 || m12 <= 100.0) continue;
    double *r = x + 6 * got++;
    r[0] = l1.pt;
    r[1] = l2.pt;
    r[2] = l1.eta;
    r[3] = l2.eta;
    r[4] = dphi;
    r[5] = m12;
  }
  return tried;
}
