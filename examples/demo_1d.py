"""The 1D NPLM demo, notebook style, with the Python binding.

Uses the event files the nplm command wrote (so that both give the same t):

    nplm generate 1d --events 200000 --seed 1 --out ref.npy
    nplm generate 1d --poisson 2000 --seed 2 --signal gauss:6.4,0.16,10 --out data.npy
    nplm generate 1d --events 1000000 --seed 3 --out pool.npy
    nplm run --reference ref.npy --data data.npy --n-expected 2000
    PYTHONPATH=bindings/python python3 examples/demo_1d.py --dir . --toys 20

prints t, its chi2 p-value and Z, calibrates t on null toys, and writes null.png and
reconstruction.png next to the samples.
"""
import argparse
import os

import numpy as np

import matplotlib

matplotlib.use("Agg")  # files, not windows: this is a script

import nplm  # noqa: E402
from nplm import plots  # noqa: E402

# %% the samples
ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--dir", default=".", help="directory with ref.npy, data.npy, pool.npy")
ap.add_argument("--toys", type=int, default=20, help="null toys for the calibration")
ap.add_argument("--n-expected", type=float, default=2000.0)
args = ap.parse_args()
ref = np.load(os.path.join(args.dir, "ref.npy"))
data = np.load(os.path.join(args.dir, "data.npy"))
pool = np.load(os.path.join(args.dir, "pool.npy"))
print(f"libnplm {nplm.version()}: {len(ref)} reference events, {len(data)} data events")

# %% the test: 1-4-1 network, weight clip 9, the quasi-Newton optimiser (the command's defaults)
family = nplm.Model.mlp([1, 4, 1], clip=9.0)
test = nplm.Test(family)
test.set_reference(ref, n_expected=args.n_expected)
test.set_option("optimizer", nplm.OPTIMIZER_LBFGSB)
t = test.run(data)
p = nplm.chi2_sf(t, 13)
print(f"t = {t:.10g}   chi2(13): p = {p:.3g}, Z = {nplm.z_from_p(p):.2f}")

# %% where is the excess? f on the reference events, and the reconstruction plot
f_ref = test.fitted_model()(ref)
fig = plots.reconstruction(ref, data, f_ref, n_expected=args.n_expected, names=["x"])
fig.savefig(os.path.join(args.dir, "reconstruction.png"), dpi=120)
grid = np.linspace(0, 10, 201)
f_grid = test.fitted_model()(grid)
print(f"f is largest at x = {grid[np.argmax(f_grid)]:.2f} (f = {f_grid.max():.2f})")

# %% calibration on null toys
t_null = test.calibrate(pool, args.toys, seed=42)
p_emp = nplm.pvalue_empirical(t_null, t)
print(f"{args.toys} null toys: median t {np.median(t_null):.2f}; empirical p = {p_emp:.3g}"
      + (" (t beyond every toy: an upper bound)" if t > t_null.max() else ""))
fig = plots.null_distribution(t_null, 13, t_obs=t)
fig.savefig(os.path.join(args.dir, "null.png"), dpi=120)
print("wrote", os.path.join(args.dir, "null.png"), "and", os.path.join(args.dir, "reconstruction.png"))
