"""Plots physicists make with NPLM results (matplotlib; every function returns the Figure).

    from nplm import plots
    fig = plots.null_distribution(t_null, dof=13, t_obs=t)
    fig.savefig("null.pdf")
"""
import math

import numpy as np

import matplotlib.pyplot as plt

from . import chi2_isf, chi2_sf, z_from_p


def _chi2_pdf(x, dof):
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    pos = x > 0
    k = dof / 2.0
    out[pos] = np.exp((k - 1) * np.log(x[pos]) - x[pos] / 2 - k * math.log(2) - math.lgamma(k))
    return out


def null_distribution(t_null, dof, t_obs=None, bins=30, ax=None, label="toys"):
    """Histogram of the null toys' t against the chi2(dof) density, with t_obs marked (and its
    chi2 p-value and Z in the legend)."""
    t_null = np.asarray(t_null, dtype=float)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    hi = max(np.max(t_null), t_obs if t_obs is not None else 0, chi2_isf(1e-3, dof))
    edges = np.linspace(0, hi * 1.05, bins + 1)
    ax.hist(t_null, bins=edges, density=True, histtype="stepfilled", alpha=0.4,
            label=f"{label} ({t_null.size})")
    xs = np.linspace(edges[0], edges[-1], 400)
    ax.plot(xs, _chi2_pdf(xs, dof), lw=2, label=f"$\\chi^2_{{{dof:g}}}$")
    if t_obs is not None:
        p = chi2_sf(t_obs, dof)
        ax.axvline(t_obs, color="k", ls="--", label=f"t = {t_obs:.3g} (p = {p:.2g}, Z = {z_from_p(p):.2f})")
    ax.set_xlabel("t")
    ax.set_ylabel("density")
    ax.legend(frameon=False)
    return fig


def quantiles_vs_epoch(epochs, quantiles, dof, ax=None):
    """The 16/50/84% quantiles of the toys' t against training time (an n x 3 array, as
    nplm_clip_step_t.quantiles_vs_epoch) beside the chi2(dof) target quantiles: too large a
    weight clip shows as quantiles that keep rising above the targets."""
    epochs = np.asarray(epochs)
    q = np.asarray(quantiles, dtype=float).reshape(-1, 3)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 4))
    for j, (lev, c) in enumerate(zip((0.16, 0.5, 0.84), ("C0", "C1", "C2"))):
        ax.plot(epochs, q[:, j], color=c, label=f"{int(lev * 100)}% of toys")
        ax.axhline(chi2_isf(1 - lev, dof), color=c, ls=":", label=f"$\\chi^2_{{{dof:g}}}$ {int(lev * 100)}%")
    ax.set_xlabel("epoch")
    ax.set_ylabel("t")
    ax.legend(frameon=False, ncol=2, fontsize="small")
    return fig


def reconstruction(reference, data, f_reference, ref_weights=None, names=None, bins=30,
                   n_expected=None):
    """Per input feature: data, the reference and the reference reweighted by e^f (the fitted
    model on the reference events), with a ratio panel to the reference. Where the reweighted
    curve follows the data away from the reference, f has found the excess."""
    ref = np.asarray(reference, dtype=float)
    dat = np.asarray(data, dtype=float)
    ref = ref.reshape(len(ref), -1)
    dat = dat.reshape(len(dat), -1)
    w = np.ones(len(ref)) if ref_weights is None else np.asarray(ref_weights, dtype=float)
    if n_expected is not None:
        w = w * n_expected / w.sum()
    rw = w * np.exp(np.asarray(f_reference, dtype=float))
    d = ref.shape[1]
    fig, axes = plt.subplots(2, d, figsize=(4.5 * d, 5), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1]}, sharex="col")
    for j in range(d):
        lo = min(ref[:, j].min(), dat[:, j].min())
        hi = max(np.quantile(ref[:, j], 0.999), dat[:, j].max())
        edges = np.linspace(lo, hi, bins + 1)
        centres = 0.5 * (edges[1:] + edges[:-1])
        hd, _ = np.histogram(dat[:, j], edges)
        hr, _ = np.histogram(ref[:, j], edges, weights=w)
        hf, _ = np.histogram(ref[:, j], edges, weights=rw)
        top, bot = axes[0][j], axes[1][j]
        top.errorbar(centres, hd, yerr=np.sqrt(hd), fmt="ko", ms=3, label="data")
        top.step(edges[:-1], hr, where="post", label="reference")
        top.step(edges[:-1], hf, where="post", label="reference x $e^f$")
        top.set_yscale("log")
        top.legend(frameon=False, fontsize="small")
        with np.errstate(divide="ignore", invalid="ignore"):
            bot.errorbar(centres, hd / hr, yerr=np.sqrt(hd) / hr, fmt="ko", ms=3)
            bot.step(edges[:-1], hf / hr, where="post", color="C1")
        bot.axhline(1, color="C0", lw=1)
        bot.set_ylabel("ratio")
        bot.set_xlabel(names[j] if names else f"x[{j}]")
    fig.tight_layout()
    return fig


def sensitivity(z_by_signal, ax=None):
    """Median Z with its 68% band per signal: z_by_signal maps a label to the Z values of that
    signal's toys (e.g. nplm_z_from_p of their p-values)."""
    labels = list(z_by_signal)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(1.5 + 1.2 * len(labels), 4))
    for i, lab in enumerate(labels):
        z = np.asarray(z_by_signal[lab], dtype=float)
        q16, med, q84 = np.quantile(z, [0.16, 0.5, 0.84])
        ax.errorbar([i], [med], yerr=[[med - q16], [q84 - med]], fmt="o", capsize=4)
        ax.text(i, q84, f" {med:.2f}", va="bottom", ha="center", fontsize="small")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("Z (median, 68% band)")
    return fig
