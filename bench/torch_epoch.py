#!/usr/bin/env python3
"""PyTorch CPU reference for the libnplm epoch benchmark: one full-batch Adam epoch of the NPLM
loss on the 5D workload (N_R 42500, N_D 8500, 5-5-5-5-1, float64) and the 1D workload
(N_R 200000, N_D 2000, 1-4-1). Prints one JSON line per case.

Usage: /usr/bin/python3 bench/torch_epoch.py [--threads N] [--epochs E] [--reps R]
(needs Debian's python3-torch)."""
import argparse
import json
import statistics
import time

import numpy as np
import torch


def workload(case, rng):
    if case == "1d":
        n_ref, n_data, layers = 200000, 2000, [1, 4, 1]
        xr = rng.exponential(size=(n_ref, 1))
        xd = rng.exponential(size=(n_data, 1))
    else:
        n_ref, n_data, layers = 42500, 8500, [5, 5, 5, 5, 1]
        xr = rng.normal(size=(n_ref, 5))
        xd = rng.normal(size=(n_data, 5))
    return xr, xd, layers, float(n_data)


def build(layers):
    mods = []
    for i in range(len(layers) - 1):
        mods.append(torch.nn.Linear(layers[i], layers[i + 1]))
        if i + 2 < len(layers):
            mods.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*mods).double()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--case", default="all")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(1)
    for case in (["1d", "5d"] if a.case == "all" else [a.case]):
        xr, xd, layers, n_exp = workload(case, rng)
        x = torch.tensor(np.vstack([xr, xd]))
        y = torch.tensor(np.concatenate([np.zeros(len(xr)), np.ones(len(xd))]))
        w = torch.tensor(np.concatenate([np.full(len(xr), n_exp / len(xr)), np.ones(len(xd))]))
        torch.manual_seed(0)  # the same initial network whatever cases ran before
        model = build(layers)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
        clip = 2.15 if case == "5d" else 9.0

        def epoch():
            opt.zero_grad()
            f = model(x)[:, 0]
            loss = torch.sum((1 - y) * w * (torch.exp(f) - 1) - y * w * f)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if name.endswith("weight"):
                        p.clamp_(-clip, clip)

        for _ in range(20):
            epoch()
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            for _ in range(a.epochs):
                epoch()
            times.append(1e3 * (time.perf_counter() - t0) / a.epochs)
        print(json.dumps({"bench": "torch_adam_epoch", "case": case, "threads": a.threads,
                          "epochs": a.epochs, "reps": a.reps, "torch": torch.__version__,
                          "ms_per_epoch_median": round(statistics.median(times), 4),
                          "ms_per_epoch_min": round(min(times), 4), "precision": "float64"}),
              flush=True)


if __name__ == "__main__":
    main()
