#!/bin/sh
# The 5D di-lepton analysis end to end with the nplm command, on the generated stand-in
# (tools/dilepton.c): inputs pT1, pT2, eta1, eta2, dphi12 (m12 is not an input).
#
#   examples/dilepton_5d.sh [NPLM] [small|full] [WORKDIR]
#
# small (the test suite): N(R0) 500, N_R 2500, 4 toys per calibration.
# full (the benchmark, about 25 minutes on two cores): N(R0) 8500, N_R 42500 = 5 N(R0); 100
#   kernel null toys, 60 network null toys, 60 with systematics, 20 toys per signal.
#
# Steps: reference/pool/data samples; the muon-momentum-scale Taylor coefficients (barrel and
# endcaps) learned from samples at +-1, +-2 sigma (sigma 0.01) with a 2.5% normalisation; null
# toys for the 5-5-5-5-1 network and for the kernel model, and null toys for the
# network with systematics (pool at +1 sigma of both scales, auxiliary measurements drawn);
# t, p and Z for data with a Z' (N(S) ~ 120 x size) and with an EFT tail; the signal-aware
# binned m12 likelihood-ratio Z (Asimov) as the reference, and Z / Z_ref.
set -eu
START=$(date +%s)
NPLM=${1:-nplm}
case $NPLM in */*) NPLM=$(cd "$(dirname "$NPLM")" && pwd)/$(basename "$NPLM");; esac
SIZE=${2:-small}
if [ $# -ge 3 ]; then
  W=$3
else
  W=$(mktemp -d)
  trap 'rm -rf "$W"' EXIT
fi
PY=${PYTHON:-/usr/bin/python3}
mkdir -p "$W"
cd "$W"
# toy counts: kernel null (TOYS), network null (NNTOYS), network null with systematics
# (SYSTOYS), signal toys per signal (SIGTOYS); the full size's can be changed from the
# environment. The network's clip (2.316) is the one nplm tune-clip chose for converged
# L-BFGS-B fits on the preprocessed stand-in (its null is then chi2(96)-like; checked again with
# 60 toys after the quasi-Newton change of 2026-12-02); the kernel's
# (M, sigma, lambda) the one the scan chose (bench/kernel_scan_5d.sh; both in
# bench/RESULTS.md).
if [ "$SIZE" = full ]; then
  NR0=8500 NZP=120 NEFT=120 KSPEC=${KSPEC:-2000,3,1e-4}
  TOYS=${TOYS:-100} NNTOYS=${NNTOYS:-60} SYSTOYS=${SYSTOYS:-60} SIGTOYS=${SIGTOYS:-20}
else
  NR0=500 NZP=30 NEFT=30 KSPEC=100,3,1e-6 TOYS=4 NNTOYS=4 SYSTOYS=4 SIGTOYS=2
fi
NNCLIP=${NNCLIP:-2.316}
NREF=$((5 * NR0))
POOL=$((40 * NR0))
G="$NPLM generate dilepton"
$G --events "$NREF" --seed 1 --out ref.npy > /dev/null
$G --events "$POOL" --seed 2 --out pool.npy > /dev/null
$G --events "$NREF" --seed 3 --with-mass --out ref_m.npy > /dev/null
# the network's inputs get the published preprocessing, maps fitted on the reference: pT1, pT2
# and dphi12 divided by their means, eta1 and eta2 standardised (raw momenta in GeV would
# saturate the sigmoids); FILE.npy -> FILE_p.npy. The kernel model standardises by itself.
"$NPLM" preprocess --reference ref.npy --params preprocess.json --in ref.npy --out ref_p.npy \
  --in pool.npy --out pool_p.npy > /dev/null
pre() { for f in "$@"; do "$NPLM" preprocess --reference ref.npy --in "$f.npy" --out "${f}_p.npy" > /dev/null; done; }
i=0
while [ $i -lt "$SIGTOYS" ]; do   # signal toys: Poisson background plus Poisson signal
  $G --poisson "$NR0" --seed $((1000 + i)) --signal "zprime:$NZP" --out "data_zp_$i.npy" > /dev/null
  $G --poisson "$NR0" --seed $((2000 + i)) --signal "eft:$NEFT" --out "data_eft_$i.npy" > /dev/null
  pre "data_zp_$i" "data_eft_$i"
  i=$((i + 1))
done
$G --events "$NZP" --seed 6 --signal "zprime:$((NZP * 50))" --with-mass --out zp_m.npy > /dev/null
$G --events "$NREF" --seed 7 --signal "eft:$((NEFT * 50))" --with-mass --out eft_m.npy > /dev/null

# momentum scale (barrel), sigma 1%: samples at -2, -1, +1, +2 sigma
for k in -2 -1 1 2; do
  case $k in -2) nu=-0.02;; -1) nu=-0.01;; 1) nu=0.01;; 2) nu=0.02;; esac
  $G --events "$NREF" --seed $((20 + k)) --scale-barrel "$nu" --out "s$k.npy" > /dev/null
  pre "s$k"
done
"$NPLM" nuisance-learn --nominal ref_p.npy --varied s-2_p.npy@-0.02,s-1_p.npy@-0.01,s1_p.npy@0.01,s2_p.npy@0.02 \
  --sigma 0.01 --order 2 --layers 5,4,1 --norm 0.025 --iterations 300 --clip 5 --out scale.nuis
# momentum scale (endcaps), sigma 1%, appended: 0 barrel, 1 normalisation, 2 endcaps
for k in -2 -1 1 2; do
  case $k in -2) nu=-0.02;; -1) nu=-0.01;; 1) nu=0.01;; 2) nu=0.02;; esac
  $G --events "$NREF" --seed $((30 + k)) --scale-endcap "$nu" --out "e$k.npy" > /dev/null
  pre "e$k"
done
"$NPLM" nuisance-learn --nominal ref_p.npy --varied e-2_p.npy@-0.02,e-1_p.npy@-0.01,e1_p.npy@0.01,e2_p.npy@0.02 \
  --sigma 0.01 --order 2 --layers 5,4,1 --iterations 300 --clip 5 --add-to scale.nuis \
  --out scales.nuis > /dev/null

NN="--reference ref_p.npy --n-expected $NR0 --model mlp:5,5,5,5,1 --clip $NNCLIP"
KER="--reference ref.npy --n-expected $NR0 --model kernel:$KSPEC --standardize"
"$NPLM" calibrate $NN --pool pool_p.npy --toys "$NNTOYS" --seed 11 --json null_nn.json
"$NPLM" calibrate $KER --pool pool.npy --toys "$TOYS" --seed 11 --json null_kernel.json
# null toys with systematics: a pool made at +1 sigma of both momentum scales, every toy with its
# auxiliary measurements drawn around those true values; t = tau - Delta should follow the
# nominal null, tau alone should not
$G --events "$POOL" --seed 4 --scale-barrel 0.01 --scale-endcap 0.01 --out pool_up.npy > /dev/null
pre pool_up
"$NPLM" calibrate $NN --nuisance scales.nuis --aux 0=0.01,2=0.01 --draw-aux --pool pool_up_p.npy \
  --toys "$SYSTOYS" --seed 11 --json null_nn_syst.json
for sig in zp eft; do
  i=0
  while [ $i -lt "$SIGTOYS" ]; do
    "$NPLM" run $NN --data "data_${sig}_${i}_p.npy" --calibration null_nn.json --json "nn_${sig}_$i.json" > /dev/null 2>&1
    "$NPLM" run $KER --data "data_${sig}_$i.npy" --calibration null_kernel.json --json "kernel_${sig}_$i.json" > /dev/null 2>&1
    # with systematics: t = tau - Delta (scales and normalisation profiled, auxiliary
    # measurements at their nominal 0) against the null calibrated with systematics
    "$NPLM" run $NN --nuisance scales.nuis --data "data_${sig}_${i}_p.npy" --calibration null_nn_syst.json \
      --json "nnsyst_${sig}_$i.json" > /dev/null 2>&1
    i=$((i + 1))
  done
done

"$PY" - "$NR0" "$NZP" "$NEFT" "$SIGTOYS" <<'EOF'
# The summary: Z of each test against its calibration (chi2 with the dof fitted on the toys,
# which extrapolates beyond the toys), and the signal-aware binned m12 reference (Asimov Z of
# a known signal template over the reference in 40 log-spaced m12 bins).
import glob, json, sys
import numpy as np
nr0, nzp, neft, ntoys = (float(a) for a in sys.argv[1:])
ref = np.load("ref_m.npy")[:, 5]
edges = np.geomspace(100.0, 3000.0, 41)
b = np.histogram(ref, edges)[0] * nr0 / len(ref)
def zref(sig_file, ns, skip):
    m = np.load(sig_file)[skip:, 5]
    s = np.histogram(m, edges)[0] * ns / len(m)
    ok = b > 0
    return float(np.sqrt(2 * np.sum((s[ok] + b[ok]) * np.log1p(s[ok] / b[ok]) - s[ok])))
z_ref = {"zp": zref("zp_m.npy", nzp, int(nzp)), "eft": zref("eft_m.npy", neft, int(5 * nr0))}
# Z (chi2 fit): chi2 with the dof fitted on the null toys; Z (toys): the empirical p-value,
# (1 + #{t_null >= t}) / (n + 1), an upper bound where t is beyond every toy (counted in >toys)
print(f"{'model':8} {'signal':6} {'toys':>4} {'median t':>9} {'median Z chi2 fit (16%-84%)':>28} "
      f"{'Z_ref':>6} {'Z/Z_ref':>8} {'median Z toys':>13} {'>toys':>5} {'s/fit':>6}")
for model in ("nn", "nnsyst", "kernel"):
    for sig in ("zp", "eft"):
        rs = [json.load(open(f)) for f in sorted(glob.glob(f"{model}_{sig}_[0-9]*.json"))]
        t = np.array([r["t"] for r in rs])
        z = np.array([r["z_chi2_fit"] if r["z_chi2_fit"] is not None else np.inf for r in rs])
        ze = np.array([r["z_empirical"] for r in rs])
        beyond = sum(bool(r["beyond_toys"]) for r in rs)
        secs = np.median([r["seconds"] for r in rs])
        q16, med, q84 = np.quantile(z, [0.16, 0.5, 0.84])
        print(f"{model:8} {sig:6} {len(rs):4d} {np.median(t):9.2f} {med:14.2f} ({q16:.2f}-{q84:.2f}) "
              f"{z_ref[sig]:6.2f} {med / z_ref[sig]:8.2f} {np.median(ze):13.2f} {beyond:5d} {secs:6.2f}")
rs = [json.load(open(f)) for f in sorted(glob.glob("nnsyst_zp_[0-9]*.json"))]
print("nnsyst: the network with the momentum scales (barrel, endcap) and normalisation nuisances, "
      f"t = tau - Delta against the null with systematics; Z' toys: median tau "
      f"{np.median([r['tau'] for r in rs]):.2f}, median Delta {np.median([r['delta'] for r in rs]):.2f}")
for model in ("nn", "nn_syst", "kernel"):
    d = json.load(open(f"null_{model}.json"))
    q16, q84 = np.quantile(d["t_null"], [0.16, 0.84])
    print(f"null {model}: {d['n_toys']} toys, median t {d['median']:.2f} (16-84% {q16:.2f}-{q84:.2f}), "
          f"fitted dof {d['dof_fit']:.1f} (KS p {d['ks_p_fit']:.2g})")
def ks2(a, b):
    """two-sample Kolmogorov-Smirnov statistic and its asymptotic p-value"""
    a, b = np.sort(a), np.sort(b)
    x = np.concatenate([a, b])
    d = np.max(np.abs(np.searchsorted(a, x, "right") / len(a) - np.searchsorted(b, x, "right") / len(b)))
    lam = d * np.sqrt(len(a) * len(b) / (len(a) + len(b)))
    k = np.arange(1, 101)
    return d, float(min(1.0, max(0.0, 2 * np.sum((-1) ** (k - 1) * np.exp(-2 * k * k * lam * lam)))))
nom = np.array(json.load(open("null_nn.json"))["t_null"])
s = json.load(open("null_nn_syst.json"))
tt, tau = np.array(s["t_null"]), np.array(s["tau_null"])
pull = (np.array(s["nu_delta_null"]) - np.array([0.01, 0.0, 0.01])) / np.array([0.01, 0.025, 0.01])
for name, v in (("t = tau - Delta", tt), ("tau alone", tau)):
    d, p = ks2(v, nom)
    q16, med, q84 = np.quantile(v, [0.16, 0.5, 0.84])
    print(f"null nn with systematics at +1 sigma (barrel, endcap scales), {name}: median {med:.2f} "
          f"(16-84% {q16:.2f}-{q84:.2f}), KS vs the nominal null p {p:.3g}")
print("mean pulls of the Delta fit (barrel, normalisation, endcap): "
      + ", ".join(f"{m:+.2f}" for m in pull.mean(axis=0)))
EOF
echo "wall time: $(($(date +%s) - START)) s"
