#!/bin/sh
# Kernel hyper-parameter scan on the 5D di-lepton stand-in: for every (sigma, M, lambda) a null
# calibration (the same toys for every point: same pool and seed) and the median Z of the Z'
# and EFT signal toys against it (chi2 with the dof fitted on the null toys).
#
#   bench/kernel_scan_5d.sh NPLM WORKDIR "SIGMAS" "MS" "LAMBDAS" NULL_TOYS SIGNAL_TOYS
#
# WORKDIR holds ref.npy, pool.npy, data_zp_I.npy and data_eft_I.npy as written by
# examples/dilepton_5d.sh full (I = 0 .. SIGNAL_TOYS-1). One JSON line per point on stdout:
# sigma, M, lambda, null median / mean t, fitted dof, KS p, median Z (16%, 84%) per signal,
# median seconds per fit.
set -eu
NPLM=$1 W=$2 SIGMAS=$3 MS=$4 LAMBDAS=$5 NT=$6 NS=$7
PY=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
cd "$W"
mkdir -p scan
for sg in $SIGMAS; do
  for M in $MS; do
    for lam in $LAMBDAS; do
      tag="s${sg}_m${M}_l${lam}"
      KER="--reference ref.npy --n-expected 8500 --model kernel:$M,$sg,$lam --standardize --threads $THREADS"
      "$NPLM" calibrate $KER --pool pool.npy --toys "$NT" --seed 11 --json "scan/null_$tag.json" 2> /dev/null > /dev/null
      for sig in zp eft; do
        i=0
        while [ $i -lt "$NS" ]; do
          "$NPLM" run $KER --data "data_${sig}_$i.npy" --calibration "scan/null_$tag.json" \
            --json "scan/${sig}_${tag}_$i.json" > /dev/null 2>&1
          i=$((i + 1))
        done
      done
      "$PY" - "$tag" "$sg" "$M" "$lam" <<'EOF'
import glob, json, sys
import numpy as np
tag, sg, M, lam = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
null = json.load(open(f"scan/null_{tag}.json"))
row = {"sigma": sg, "M": M, "lambda": lam, "null_toys": null["n_toys"],
       "null_median": null["median"], "null_mean": float(np.mean(null["t_null"])),
       "dof_fit": null["dof_fit"], "ks_p": null["ks_p_fit"]}
secs = []
for sig in ("zp", "eft"):
    rs = [json.load(open(f)) for f in sorted(glob.glob(f"scan/{sig}_{tag}_[0-9]*.json"))]
    z = np.array([r["z_chi2_fit"] if r["z_chi2_fit"] is not None else np.inf for r in rs])
    q16, med, q84 = np.quantile(z, [0.16, 0.5, 0.84])
    row[sig] = {"toys": len(rs), "median_z": med, "z16": q16, "z84": q84,
                "median_t": float(np.median([r["t"] for r in rs]))}
    secs += [r["seconds"] for r in rs]
row["seconds_per_fit"] = float(np.median(secs))
print(json.dumps(row), flush=True)
EOF
    done
  done
done
