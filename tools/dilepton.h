/* A physics-motivated stand-in for the 5D di-lepton NPLM benchmark (the real samples are not
 * public): Drell-Yan-like pairs, a narrow Z' and an EFT-like contact-interaction tail, with
 * muon-momentum-scale nuisances in barrel and endcaps. See dilepton.c for the model. */
#ifndef NPLM_TOOLS_DILEPTON_H
#define NPLM_TOOLS_DILEPTON_H

#include <stddef.h>
#include <stdint.h>

enum dilepton_process { DILEPTON_DY = 0, DILEPTON_ZPRIME = 1, DILEPTON_EFT = 2 };

typedef struct dilepton_config {
  double scale_barrel; /* log of the momentum scale factor for |eta| < 1.2 (absolute) */
  double scale_endcap; /* the same for 1.2 <= |eta| < 2.4 */
  double zprime_mass, zprime_width; /* GeV; default 300, 3 */
  double eft_lambda;   /* GeV: contact-interaction scale of the EFT tail; default 2000 */
} dilepton_config_t;

void dilepton_default_config(dilepton_config_t *c);

/* n accepted events of one process into x (n x 6, row-major: pT1, pT2, eta1, eta2, dphi12,
 * m12; pT1 >= pT2; GeV and radians), from the splitmix stream *state. Acceptance: both
 * leptons pT > 20 GeV and |eta| < 2.4 after the momentum scale, m12 > 100 GeV. Returns the
 * number of generated candidates tried (for efficiencies). */
size_t dilepton_generate(int process, const dilepton_config_t *c, size_t n, uint64_t *state,
                         double *x);

#endif
