"""The Python binding against the C API and the command: the same t bit for bit, errors that
carry the library's message, reproducible calibrations, statistics, plots.

Run by meson (suite python) with NPLM_LIBRARY, NPLM_EXE and NPLM_API_T set."""
import json
import os
import subprocess

import numpy as np
import pytest

import nplm

EXE = os.environ.get("NPLM_EXE")
API_T = os.environ.get("NPLM_API_T")


def test_version_is_the_library_s():
    assert nplm.version() == subprocess.check_output([EXE, "version"], text=True).split()[1]
    assert "libnplm.so" in nplm.library_path


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    d = tmp_path_factory.mktemp("samples")
    ref = np.random.default_rng(1).exponential(size=4000)
    data = np.concatenate([np.random.default_rng(2).exponential(size=95),
                           np.random.default_rng(3).normal(6.4, 0.16, size=6)])
    np.save(d / "ref.npy", ref)
    np.save(d / "data.npy", data)
    return d, ref, data


def run_binding(ref, data, n_exp=100.0):
    with nplm.Model.mlp([1, 4, 1], clip=9.0) as m, nplm.Test(m) as t:
        t.set_reference(ref, n_expected=n_exp)
        t.set_option("optimizer", nplm.OPTIMIZER_LBFGSB)
        return t.run(data), t.result("iterations")


def test_t_equals_the_c_api_and_the_command(samples):
    d, ref, data = samples
    t_py, iters = run_binding(ref, data)
    t_c = float(subprocess.check_output([API_T, str(d / "ref.npy"), str(d / "data.npy"), "100"],
                                        text=True))
    assert t_py == t_c
    out = d / "run.json"
    subprocess.check_call([EXE, "run", "--reference", str(d / "ref.npy"), "--data",
                           str(d / "data.npy"), "--n-expected", "100", "--json", str(out)],
                          stdout=subprocess.DEVNULL)
    assert json.load(open(out))["t"] == t_py
    assert iters > 0 and t_py > 0


def test_adam_then_lbfgsb_matches_the_command(samples):
    d, ref, data = samples
    with nplm.Model.mlp([1, 4, 1], clip=9.0) as m, nplm.Test(m) as t:
        t.set_reference(ref, n_expected=100.0)
        t.set_option("optimizer", nplm.OPTIMIZER_ADAM_LBFGSB)
        t.set_option("epochs", 300)
        t_hyb, iters = t.run(data), t.result("iterations")
        t.set_option("optimizer", nplm.OPTIMIZER_ADAM)
        t_adam = t.run(data)
    assert iters > 300 and t_hyb >= t_adam
    out = d / "hyb.json"
    subprocess.check_call([EXE, "run", "--reference", str(d / "ref.npy"), "--data",
                           str(d / "data.npy"), "--n-expected", "100", "--optimizer",
                           "adam-lbfgsb", "--epochs", "300", "--json", str(out)],
                          stdout=subprocess.DEVNULL)
    assert json.load(open(out))["t"] == t_hyb


def test_multi_start_matches_the_command(samples):
    d, ref, data = samples
    with nplm.Model.mlp([1, 4, 1], clip=9.0) as m, nplm.Test(m) as t:
        t.set_reference(ref, n_expected=100.0)
        t.set_option("optimizer", nplm.OPTIMIZER_LBFGSB)
        t_one = t.run(data)
        t.set_option("starts", 3)
        assert t.option("starts") == 3
        t_three = t.run(data)
    assert t_three >= t_one
    out = d / "starts.json"
    subprocess.check_call([EXE, "run", "--reference", str(d / "ref.npy"), "--data",
                           str(d / "data.npy"), "--n-expected", "100", "--starts", "3",
                           "--json", str(out)], stdout=subprocess.DEVNULL)
    assert json.load(open(out))["t"] == t_three


def test_errors_carry_the_library_message(samples):
    _, ref, _ = samples
    with pytest.raises(nplm.NplmInvalid, match="output layer"):
        nplm.Model.mlp([1, 4, 2])
    with nplm.Model.mlp([2, 3, 1]) as m, nplm.Test(m) as t:
        with pytest.raises(nplm.NplmInvalid, match="d = 1 but the model has 2"):
            t.set_reference(ref, n_expected=100.0)
        with pytest.raises(nplm.NplmInvalid, match="unknown option"):
            t.set_option("no_such_option", 1)
        with pytest.raises(nplm.NplmInvalid, match="unknown option"):
            t.option("no_such_option")
        with pytest.raises(nplm.NplmInvalid, match="epochs"):
            t.set_option("epochs", 0)
        with pytest.raises(nplm.NplmState, match="reference"):
            t.run(np.zeros((3, 2)))
    with pytest.raises(nplm.NplmIO):
        nplm.Model.load("/nonexistent/model.bin")
    try:
        nplm.Model.mlp([1, 0, 1])
    except nplm.NplmError as e:
        assert e.status == "NPLM_EINVAL" and "layers[1]" in str(e)


def test_calibration_shards_and_threads_reproduce(samples):
    _, ref, _ = samples
    pool = np.random.default_rng(5).exponential(size=20000)
    with nplm.Model.mlp([1, 3, 1], clip=4.0) as m:
        res = []
        for threads, parts in ((2, [(0, 4)]), (1, [(0, 2), (2, 2)])):
            with nplm.Test(m) as t:
                t.set_reference(ref, n_expected=100.0)
                t.set_option("optimizer", nplm.OPTIMIZER_LBFGSB)
                t.set_option("max_iterations", 200)
                t.set_option("threads", threads)
                res.append(np.concatenate([t.calibrate(pool, n, seed=3, first_toy=k)
                                           for k, n in parts]))
        assert np.array_equal(res[0], res[1])
        assert len(set(res[0])) == 4


def test_model_roundtrip_and_kernel_family(samples, tmp_path):
    _, ref, data = samples
    with nplm.Model.kernel(1, 50, 0.7, 1e-6) as k, nplm.Test(k) as t:
        t.set_reference(ref, n_expected=100.0)
        tv = t.run(data)
        assert tv > 0 and t.result("centers") == 50
        assert 0 < t.result("kernel_rank") <= 50 and t.result("jitter") == 1e-12
        f = t.fitted_model()
        f.save(tmp_path / "k.bin")
        back = nplm.Model.load(tmp_path / "k.bin")
        assert np.array_equal(back(data), f(data))
        assert back.num_params == 50


def test_statistics_match_known_values():
    # independent: the chi2(13) density integrated numerically from 13 on
    from math import lgamma, log
    x = np.linspace(13.0, 400.0, 2000001)
    pdf = np.exp(5.5 * np.log(x) - x / 2 - 6.5 * log(2) - lgamma(6.5))
    area = float(np.sum((pdf[1:] + pdf[:-1]) / 2 * np.diff(x)))
    assert nplm.chi2_sf(13.0, 13.0) == pytest.approx(area, rel=1e-8)
    assert nplm.z_from_p(nplm.p_from_z(5.0)) == pytest.approx(5.0, rel=1e-12)
    assert nplm.z_from_p(1e-300) == pytest.approx(37.047096, rel=1e-6)
    t = np.random.default_rng(7).chisquare(9.0, size=4000)
    assert nplm.chi2_fit_dof(t) == pytest.approx(9.0, rel=0.03)
    stat, p = nplm.ks_chi2(t, 9.0)
    assert 0 < stat < 0.05 and p > 1e-3
    assert nplm.pvalue_empirical([1.0, 2.0, 3.0], 2.5) == 0.5


def test_preprocess_matches_numpy_and_the_command(tmp_path):
    rng = np.random.default_rng(3)
    ref = np.column_stack([rng.exponential(50.0, 2000) + 20, rng.normal(0, 1.3, 2000)])
    shift, scale = nplm.preprocess_fit(ref)
    assert shift[0] == 0 and scale[0] == pytest.approx(1 / ref[:, 0].mean(), rel=1e-14)
    assert shift[1] == pytest.approx(ref[:, 1].mean(), rel=1e-12, abs=1e-15)
    assert scale[1] == pytest.approx(1 / ref[:, 1].std(), rel=1e-13)
    y = nplm.preprocess_apply(ref, shift, scale)
    assert np.allclose(y, (ref - shift) * scale, rtol=1e-15, atol=0)
    assert y is not ref and ref[0, 0] > 20  # the input is not overwritten
    w = rng.uniform(0.5, 2.0, 2000)
    s2, c2 = nplm.preprocess_fit(ref, weights=w, mode="standard")
    assert s2[0] == pytest.approx(np.average(ref[:, 0], weights=w), rel=1e-13)
    np.save(tmp_path / "r.npy", ref)
    subprocess.run([EXE, "preprocess", "--reference", str(tmp_path / "r.npy"),
                    "--in", str(tmp_path / "r.npy"), "--out", str(tmp_path / "p.npy")],
                   check=True, capture_output=True)
    assert np.array_equal(np.load(tmp_path / "p.npy"), y)
    with pytest.raises(nplm.NplmInvalid, match="feature 1"):
        nplm.preprocess_fit(np.column_stack([ref[:, 0], np.full(2000, -1.0)]))
    with pytest.raises(ValueError, match="mode"):
        nplm.preprocess_fit(ref, mode="minmax")


def test_plots_make_figures(samples, tmp_path):
    from nplm import plots  # matplotlib is a test dependency (scripts/test installs it)
    _, ref, data = samples
    t_null = np.random.default_rng(9).chisquare(13.0, size=200)
    for name, fig in [
        ("null", plots.null_distribution(t_null, 13, t_obs=30.0)),
        ("quant", plots.quantiles_vs_epoch([1000, 2000, 3000],
                                           np.array([[8, 12, 17], [8.2, 12.3, 18], [8.1, 12.2, 18]]), 13)),
        ("reco", plots.reconstruction(ref, data, np.zeros(len(ref)), n_expected=100.0, names=["x"])),
        ("sens", plots.sensitivity({"tail": [2.1, 2.5, 3.0], "bulk": [1.0, 1.5, 2.2]})),
    ]:
        path = tmp_path / f"{name}.png"
        fig.savefig(path)
        assert path.stat().st_size > 5000


def test_readme_demo_cli_and_python_agree(tmp_path):
    """The README's path: the command writes the samples and fits; the Python demo reads the
    same files, prints the same t and writes the PNG plots."""
    run = lambda *a: subprocess.check_output([EXE, *a], text=True)  # noqa: E731
    run("generate", "1d", "--events", "20000", "--seed", "1", "--out", str(tmp_path / "ref.npy"))
    run("generate", "1d", "--poisson", "200", "--seed", "2", "--signal", "gauss:6.4,0.16,10",
        "--out", str(tmp_path / "data.npy"))
    run("generate", "1d", "--events", "40000", "--seed", "3", "--out", str(tmp_path / "pool.npy"))
    run("run", "--reference", str(tmp_path / "ref.npy"), "--data", str(tmp_path / "data.npy"),
        "--n-expected", "200", "--json", str(tmp_path / "t.json"))
    t_cli = json.load(open(tmp_path / "t.json"))["t"]
    demo = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "demo_1d.py")
    out = subprocess.check_output(["/usr/bin/python3", demo, "--dir", str(tmp_path), "--toys",
                                   "4", "--n-expected", "200"], text=True)
    line = [s for s in out.splitlines() if s.startswith("t = ")][0]
    assert float(line.split()[2]) == float(f"{t_cli:.10g}")
    for png in ("null.png", "reconstruction.png"):
        assert (tmp_path / png).stat().st_size > 5000


def test_nuisance_handle_lifecycle(samples, tmp_path):
    d, ref, _ = samples
    np.save(tmp_path / "up.npy", ref[:2000] * 1.05)
    np.save(tmp_path / "down.npy", ref[:2000] * 0.95)
    subprocess.check_call([EXE, "nuisance-learn", "--nominal", str(d / "ref.npy"), "--varied",
                           f"{tmp_path / 'up.npy'}@1,{tmp_path / 'down.npy'}@-1", "--sigma", "1",
                           "--norm", "0.025", "--iterations", "50", "--out",
                           str(tmp_path / "nu.bin")], stdout=subprocess.DEVNULL)
    with nplm.Nuisance(tmp_path / "nu.bin") as nu:
        assert len(nu) == 2  # the shape nuisance and the normalisation
        with nplm.Model.mlp([1, 4, 1]) as m, nplm.Test(m, nu) as t:
            t.set_reference(ref, n_expected=100.0)
    assert nu._h is None and t._h is None and m._h is None
    nu.close()  # closing twice is harmless


def test_borrowed_fitted_model_and_argument_checks(samples):
    """The fitted model is the Test's until its next run: using it later raises instead of
    reading freed memory; a weights array of the wrong length and integer options past 2^53
    are refused, not read out of bounds or rounded."""
    _, ref, data = samples
    with nplm.Model.mlp([1, 3, 1], clip=9.0) as m:
        t = nplm.Test(m)
        t.set_reference(ref, n_expected=100.0)
        t.set_option("optimizer", nplm.OPTIMIZER_LBFGSB)
        t.run(data)
        f = t.fitted_model()
        p = f.params.copy()
        assert f.num_params == 10
        t.run(data[:50])
        with pytest.raises(nplm.NplmState, match="earlier run"):
            f.num_params
        g = t.fitted_model()
        assert g.num_params == 10 and not np.array_equal(g.params, p)
        del t  # g keeps the test alive: still valid
        assert g.num_params == 10
        g._test.close()
        with pytest.raises(nplm.NplmState):
            g.params
        with nplm.Test(m) as t:
            with pytest.raises(nplm.NplmInvalid, match="weights: need 4000 values"):
                t.set_reference(ref, n_expected=100.0, weights=np.ones(2))
            t.set_reference(ref, n_expected=100.0)
            with pytest.raises(nplm.NplmInvalid, match="weights: need"):
                t.run(data, weights=np.ones(len(data) - 1))
            with pytest.raises(nplm.NplmInvalid, match="weights: need"):
                t.calibrate(ref, 2, seed=1, weights=np.ones(3))
            with pytest.raises(nplm.NplmInvalid, match="seed"):
                t.calibrate(ref, 2, seed=-1)
            t.set_option("seed", 2**53)
            assert t.option("seed") == 2.0**53
            with pytest.raises(nplm.NplmInvalid, match="seed"):
                t.set_option("seed", 2**53 + 1)
            with pytest.raises(nplm.NplmInvalid, match="seed"):
                t.set_option("seed", 10**400)
            assert t.option("seed") == 2.0**53


def test_unknown_names_raise_nplm_invalid(samples):
    _, ref, data = samples
    with nplm.Model.mlp([1, 3, 1], clip=9.0) as m, nplm.Test(m) as t:
        t.set_reference(ref, n_expected=100.0)
        t.set_option("optimizer", nplm.OPTIMIZER_LBFGSB)
        t.run(data)
        with pytest.raises(nplm.NplmInvalid, match="unknown result"):
            t.result("no_such_result")
        with pytest.raises(nplm.NplmInvalid, match="fit"):
            t.nuisances("aux")
