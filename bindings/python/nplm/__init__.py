"""Python binding of libnplm (ctypes; numpy arrays in and out; no compilation step).

The shared library is found, in order, from the environment variable ``NPLM_LIBRARY`` (a path
to ``libnplm.so.0``), next to this package (``../../../build`` of a source tree), then through
the system's library search (an installed ``libnplm.so.0``).

    import nplm, numpy as np
    ref = np.random.default_rng(1).exponential(size=200000)
    data = np.random.default_rng(2).exponential(size=2000)
    with nplm.Model.mlp([1, 4, 1], clip=9.0) as m, nplm.Test(m) as t:
        t.set_reference(ref, n_expected=2000.0)
        t.set_option("optimizer", nplm.OPTIMIZER_LBFGSB)
        print(t.run(data), nplm.z_from_p(nplm.chi2_sf(t.result("t"), 13)))

Errors raise :class:`NplmError` (a subclass per status, e.g. :class:`NplmInvalid`) carrying
the library's message.
"""
import ctypes
import ctypes.util
import os

import numpy as np

__all__ = [
    "NplmError", "version", "Model", "Nuisance", "Test", "chi2_sf", "chi2_isf", "z_from_p",
    "p_from_z", "chi2_fit_dof", "ks_chi2", "pvalue_empirical", "library_path",
    "preprocess_fit", "preprocess_apply",
]

# ---- the library ----


def _candidates():
    env = os.environ.get("NPLM_LIBRARY")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in ("../../../build/libnplm.so.0", "../../../../lib/libnplm.so.0"):
        yield os.path.normpath(os.path.join(here, rel))
    found = ctypes.util.find_library("nplm")
    if found:
        yield found
    yield "libnplm.so.0"


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError("libnplm not found; set NPLM_LIBRARY to libnplm.so.0 (" +
                      "; ".join(errors) + ")")


_lib, library_path = _load()

_d = ctypes.c_double
_sz = ctypes.c_size_t
_dp = ctypes.POINTER(ctypes.c_double)
_vp = ctypes.c_void_p
_i64 = ctypes.c_int64
_st = ctypes.c_int


def _fn(name, res, *args):
    f = getattr(_lib, name)
    f.restype = res
    f.argtypes = list(args)
    return f


_version_string = _fn("nplm_version_string", ctypes.c_char_p)
_last_error = _fn("nplm_last_error", ctypes.c_char_p)
_status_name = _fn("nplm_status_name", ctypes.c_char_p, _st)
_mlp = _fn("nplm_model_create_mlp", _st, ctypes.POINTER(_vp), ctypes.POINTER(_sz), _sz, _d)
_kern = _fn("nplm_model_create_kernel", _st, ctypes.POINTER(_vp), _sz, _sz, _d, _d)
_mfree = _fn("nplm_model_free", None, _vp)
_mnp = _fn("nplm_model_num_params", _sz, _vp)
_mdim = _fn("nplm_model_input_dim", _sz, _vp)
_mget = _fn("nplm_model_get_params", _st, _vp, _dp, _sz)
_mset = _fn("nplm_model_set_params", _st, _vp, _dp, _sz)
_meval = _fn("nplm_model_eval", _st, _vp, _dp, _sz, _sz, _dp)
_msave = _fn("nplm_model_save", _st, _vp, ctypes.c_char_p)
_mload = _fn("nplm_model_load", _st, ctypes.POINTER(_vp), ctypes.c_char_p)
_nload = _fn("nplm_nuisance_load", _st, ctypes.POINTER(_vp), ctypes.c_char_p)
_nfree = _fn("nplm_nuisance_free", None, _vp)
_ncount = _fn("nplm_nuisance_count", _sz, _vp)
_tcreate = _fn("nplm_test_create", _st, ctypes.POINTER(_vp), _vp, _vp)
_tfree = _fn("nplm_test_free", None, _vp)
_tref = _fn("nplm_test_set_reference", _st, _vp, _dp, _sz, _sz, _dp, _d)
_tsetd = _fn("nplm_test_set_double", _st, _vp, _st, _d)
_tseti = _fn("nplm_test_set_int", _st, _vp, _st, _i64)
_tget = _fn("nplm_test_get_option", _st, _vp, _st, _dp)
_trun = _fn("nplm_test_run", _st, _vp, _dp, _sz, _sz, _dp, _dp)
_tres = _fn("nplm_test_result", _st, _vp, _st, _dp)
_tlast = _fn("nplm_test_last_error", ctypes.c_char_p, _vp)
_tfit = _fn("nplm_test_fitted_model", _st, _vp, ctypes.POINTER(_vp))
_thist = _fn("nplm_test_history", _st, _vp, ctypes.POINTER(_i64), _dp, _sz, ctypes.POINTER(_sz))
_tnu = _fn("nplm_test_nuisances", _st, _vp, _st, _dp, _sz)
_taux = _fn("nplm_test_set_aux", _st, _vp, _sz, _d)
_tcal = _fn("nplm_test_calibrate", _st, _vp, _dp, _sz, _sz, _dp, _sz, ctypes.c_uint64, _dp)
_ttoy = _fn("nplm_test_toy_results", _st, _vp, _st, _dp, _sz)
_optname = _fn("nplm_option_name", ctypes.c_char_p, _st)
_chi2_sf = _fn("nplm_chi2_sf", _d, _d, _d)
_chi2_isf = _fn("nplm_chi2_isf", _d, _d, _d)
_z_from_p = _fn("nplm_z_from_p", _d, _d)
_p_from_z = _fn("nplm_p_from_z", _d, _d)
_fit_dof = _fn("nplm_chi2_fit_dof", _st, _dp, _sz, _dp)
_ks = _fn("nplm_ks_chi2", _st, _dp, _sz, _d, _dp, _dp)
_pemp = _fn("nplm_pvalue_empirical", _st, _dp, _sz, _d, _dp)
_prefit = _fn("nplm_preprocess_fit", _st, _dp, _sz, _sz, _dp, ctypes.c_int, _dp, _dp)
_preapply = _fn("nplm_preprocess_apply", _st, _dp, _sz, _sz, _dp, _dp)

# ---- errors ----


class NplmError(RuntimeError):
    """A libnplm call failed; ``status`` is the code's name, the message the library's."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class NplmInvalid(NplmError, ValueError):
    """NPLM_EINVAL: a bad argument."""


class NplmNoMemory(NplmError, MemoryError):
    """NPLM_ENOMEM."""


class NplmState(NplmError):
    """NPLM_ESTATE: a call out of order."""


class NplmNotConverged(NplmError):
    """NPLM_ENOCONV (only raised where a result would be unusable)."""


class NplmIO(NplmError, OSError):
    """NPLM_EIO / NPLM_EFORMAT: files."""


_EXC = {1: NplmInvalid, 2: NplmNoMemory, 3: NplmState, 4: NplmNotConverged, 7: NplmIO,
        8: NplmIO}


def _check(status, handle=None):
    if status == 0:
        return
    name = _status_name(status).decode()
    msg = (_tlast(handle) if handle else _last_error()).decode()
    raise _EXC.get(status, NplmError)(name, msg or name)


def version():
    """The library's version string, e.g. '0.1.0'."""
    return _version_string().decode()


def _events(x, d=None, name="x"):
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    if a.ndim == 1:
        a = a.reshape(-1, 1) if d in (None, 1) else a.reshape(-1, d)
    if a.ndim != 2:
        raise ValueError(f"{name}: events must be a 1-D or 2-D array (n or n x d)")
    return a


def _ptr(a):
    return a.ctypes.data_as(_dp) if a is not None else None


# ---- models ----


class _Handle:
    """Owns one library handle: ``close()`` frees it, as do leaving a ``with`` block and
    garbage collection."""

    _h = None
    _own = True

    def _release(self, h):
        raise NotImplementedError

    def close(self):
        if self._h and self._own:
            self._release(self._h)
        self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


def _weights(weights, n, name="weights"):
    """None, or the weights as n contiguous float64 values (a wrong length is refused: the
    library reads exactly n)."""
    if weights is None:
        return None
    w = np.ascontiguousarray(np.asarray(weights, np.float64))
    if w.shape != (n,):
        raise NplmInvalid("NPLM_EINVAL", f"{name}: need {n} values, got shape {w.shape}")
    return w


class Model(_Handle):
    """A model family: ``Model.mlp([1, 4, 1], clip=9.0)`` or ``Model.kernel(d, M, sigma, lam)``."""

    def __init__(self, handle, owner=True):
        self._h = handle
        self._own = owner

    @classmethod
    def mlp(cls, layers, clip=9.0):
        arr = (_sz * len(layers))(*layers)
        h = _vp()
        _check(_mlp(ctypes.byref(h), arr, len(layers), float(clip)))
        return cls(h)

    @classmethod
    def kernel(cls, d, n_centers, sigma, lam):
        h = _vp()
        _check(_kern(ctypes.byref(h), d, n_centers, float(sigma), float(lam)))
        return cls(h)

    @classmethod
    def load(cls, path):
        h = _vp()
        _check(_mload(ctypes.byref(h), os.fsencode(path)))
        return cls(h)

    @property
    def num_params(self):
        return _mnp(self._h)

    @property
    def input_dim(self):
        return _mdim(self._h)

    @property
    def params(self):
        p = np.empty(self.num_params)
        _check(_mget(self._h, _ptr(p), p.size))
        return p

    @params.setter
    def params(self, values):
        p = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
        _check(_mset(self._h, _ptr(p), p.size))

    def __call__(self, x):
        """f on events (n or n x d array)."""
        a = _events(x, self.input_dim)
        f = np.empty(a.shape[0])
        _check(_meval(self._h, _ptr(a), a.shape[0], a.shape[1], _ptr(f)))
        return f

    def save(self, path):
        _check(_msave(self._h, os.fsencode(path)))

    def _release(self, h):
        _mfree(h)


class Nuisance(_Handle):
    """Nuisance parameters loaded from a module file (``nplm nuisance-learn``)."""

    def __init__(self, path):
        self._h = _vp()
        _check(_nload(ctypes.byref(self._h), os.fsencode(path)))

    def __len__(self):
        return _ncount(self._h)

    def _release(self, h):
        _nfree(h)


OPTIMIZER_ADAM = 0
OPTIMIZER_LBFGSB = 1
OPTIMIZER_ADAM_LBFGSB = 2
_OPTIONS = {}
for _k in range(1, 400):  # every key the library names
    _n = _optname(_k)
    if _n:
        _OPTIONS[_n.decode()] = _k
_RESULTS = {"t": 1, "loss": 2, "iterations": 3, "converged": 4, "seconds": 5, "evaluations": 6,
            "gradient_norm": 7, "threads": 8, "n_data": 9, "sum_data_weights": 10, "tau": 11,
            "delta": 12, "centers": 13, "jitter": 14, "kernel_rank": 15}


def _result_key(name):
    if name not in _RESULTS:
        raise NplmInvalid("NPLM_EINVAL", f"unknown result '{name}' (known: "
                          f"{', '.join(sorted(_RESULTS))})")
    return _RESULTS[name]


class _FittedModel(Model):
    """A Test's fitted model, borrowed from it: the library keeps it only until the Test's next
    run, calibration or reference, or its close, after which using it raises NplmState (it
    once read freed memory). It keeps the Test alive; ``Model.load`` of a saved copy outlives
    both."""

    def __init__(self, handle, test):
        self._borrowed = handle
        self._test = test
        self._gen = test._gen
        self._own = False

    @property
    def _h(self):
        t = self._test
        if self._borrowed is None or t._h is None or t._gen != self._gen:
            raise NplmState("NPLM_ESTATE", "this fitted model belonged to an earlier run of "
                            "its Test (call fitted_model() again, or save it)")
        return self._borrowed

    def close(self):
        self._borrowed = None


class Test(_Handle):
    """The NPLM test for a model family (and optional nuisances)."""

    def __init__(self, model, nuisance=None):
        self._h = _vp()
        _check(_tcreate(ctypes.byref(self._h), model._h, nuisance._h if nuisance else None))
        self._nu = len(nuisance) if nuisance else 0
        self._progress = None
        self._gen = 0  # bumped by every call that replaces the fitted model

    def set_reference(self, x, n_expected, weights=None):
        a = _events(x)
        w = _weights(weights, a.shape[0])
        self._gen += 1
        _check(_tref(self._h, _ptr(a), a.shape[0], a.shape[1], _ptr(w), float(n_expected)),
               self._h)
        self._d = a.shape[1]

    @staticmethod
    def _key(name):
        if name not in _OPTIONS:
            raise NplmInvalid("NPLM_EINVAL", f"unknown option '{name}' (known: "
                              f"{', '.join(sorted(_OPTIONS))})")
        return _OPTIONS[name]

    def set_option(self, name, value):
        """Set an option by its name (``nplm_option_name``), e.g. ``"epochs"``."""
        key = self._key(name)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            # exactly, through the integer setter (a double would round past 2^53)
            if not -(2**63) <= int(value) < 2**63:
                raise NplmInvalid("NPLM_EINVAL", f"option '{name}' = {value} is out of range")
            _check(_tseti(self._h, key, int(value)), self._h)
        else:
            _check(_tsetd(self._h, key, float(value)), self._h)

    def option(self, name):
        """The value of an option, by its name."""
        v = _d()
        _check(_tget(self._h, self._key(name), ctypes.byref(v)))
        return v.value

    def set_aux(self, index, nu0):
        _check(_taux(self._h, index, float(nu0)), self._h)

    def run(self, data, weights=None):
        """Fit and return t (a fit stopped by its iteration limit still returns its t)."""
        a = _events(data, getattr(self, "_d", None), "data")
        w = _weights(weights, a.shape[0])
        t = _d()
        self._gen += 1
        st = _trun(self._h, _ptr(a), a.shape[0], a.shape[1], _ptr(w), ctypes.byref(t))
        if st != 4:
            _check(st, self._h)
        return t.value

    def result(self, key):
        v = _d()
        _check(_tres(self._h, _result_key(key), ctypes.byref(v)))
        return v.value

    def history(self):
        """(epochs, t) arrays recorded every ``patience`` steps of the last run."""
        n = _sz()
        _check(_thist(self._h, None, None, 0, ctypes.byref(n)))
        ep = (_i64 * max(n.value, 1))()
        tv = np.empty(n.value)
        _check(_thist(self._h, ep, _ptr(tv), n.value, ctypes.byref(n)))
        return np.array(ep[: n.value], dtype=np.int64), tv

    def nuisances(self, fit="tau"):
        out = np.empty(self._nu)
        fits = {"tau": 0, "delta": 1}
        if fit not in fits:
            raise NplmInvalid("NPLM_EINVAL", f"fit: {fit!r} is neither 'tau' nor 'delta'")
        _check(_tnu(self._h, fits[fit], _ptr(out), self._nu))
        return out

    def fitted_model(self):
        h = _vp()
        _check(_tfit(self._h, ctypes.byref(h)))
        return _FittedModel(h, self)

    def calibrate(self, pool, n_toys, seed, weights=None, first_toy=0):
        """t of n_toys null toys drawn from the pool, in toy order."""
        a = _events(pool, getattr(self, "_d", None), "pool")
        w = _weights(weights, a.shape[0])
        if not 0 <= int(seed) < 2**64:
            raise NplmInvalid("NPLM_EINVAL", f"seed: {seed} is not in [0, 2^64)")
        self.set_option("toy_offset", int(first_toy))
        self._gen += 1
        out = np.empty(n_toys)
        st = _tcal(self._h, _ptr(a), a.shape[0], a.shape[1], _ptr(w), n_toys, seed, _ptr(out))
        if st != 4:
            _check(st, self._h)
        return out

    def toy_results(self, key, n_toys):
        out = np.empty(n_toys)
        _check(_ttoy(self._h, _result_key(key), _ptr(out), n_toys))
        return out

    def _release(self, h):
        _tfree(h)


# ---- statistics ----


def chi2_sf(x, dof):
    return _chi2_sf(float(x), float(dof))


def chi2_isf(p, dof):
    return _chi2_isf(float(p), float(dof))


def z_from_p(p):
    return _z_from_p(float(p))


def p_from_z(z):
    return _p_from_z(float(z))


def chi2_fit_dof(t):
    a = np.ascontiguousarray(np.asarray(t, np.float64))
    v = _d()
    _check(_fit_dof(_ptr(a), a.size, ctypes.byref(v)))
    return v.value


def ks_chi2(t, dof):
    """(statistic, p-value) of the two-sided KS test of t against chi2(dof)."""
    a = np.ascontiguousarray(np.asarray(t, np.float64))
    s, p = _d(), _d()
    _check(_ks(_ptr(a), a.size, float(dof), ctypes.byref(s), ctypes.byref(p)))
    return s.value, p.value


def pvalue_empirical(t_null, t_obs):
    a = np.ascontiguousarray(np.asarray(t_null, np.float64))
    v = _d()
    _check(_pemp(_ptr(a), a.size, float(t_obs), ctypes.byref(v)))
    return v.value


# ---- input preprocessing ----

_PREPROCESS_MODES = {"nplm": 0, "standard": 1}


def preprocess_fit(reference, weights=None, mode="nplm"):
    """(shift, scale) per feature, fitted on the reference events: ``mode="nplm"`` is the
    published recipe (features with negative values standardised, non-negative ones above 1
    divided by their mean, others unchanged), ``"standard"`` standardises every feature."""
    if mode not in _PREPROCESS_MODES:
        raise ValueError(f"mode: {mode!r} is neither 'nplm' nor 'standard'")
    x = _events(reference, name="reference")
    w = _weights(weights, x.shape[0])
    shift, scale = np.empty(x.shape[1]), np.empty(x.shape[1])
    _check(_prefit(_ptr(x), x.shape[0], x.shape[1], _ptr(w), _PREPROCESS_MODES[mode],
                   _ptr(shift), _ptr(scale)))
    return shift, scale


def preprocess_apply(x, shift, scale):
    """A new array (x - shift) * scale, feature by feature (x itself is left unchanged)."""
    a = np.array(_events(x), dtype=np.float64, order="C", copy=True)
    sh = np.ascontiguousarray(np.asarray(shift, np.float64))
    sc = np.ascontiguousarray(np.asarray(scale, np.float64))
    if sh.shape != (a.shape[1],) or sc.shape != (a.shape[1],):
        raise ValueError(f"shift and scale: need {a.shape[1]} values each")
    _check(_preapply(_ptr(a), a.shape[0], a.shape[1], _ptr(sh), _ptr(sc)))
    return a
