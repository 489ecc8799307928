"""Peer libraries used as oracles in the benchmarks (never imported by the package).

ByzFL (EPFL, ``pip install --no-deps byzfl==0.0.11``: its own requirements would replace the
CPU torch with a CUDA build and pull torchvision, which only its training code needs) is
imported without running its package ``__init__``, which imports torchvision for its
benchmark module; only ``byzfl.aggregators`` is loaded.
"""

import importlib
import importlib.util
import sys
import types

import numpy as np
from sklearn.base import BaseEstimator

BYZFL_AGGREGATORS = ("CAF", "Meamed", "MoNNA", "MultiKrum", "TrMean", "GeometricMedian")


def import_byzfl_aggregators():
    """``byzfl.aggregators`` without its package ``__init__``; None when ByzFL is absent."""
    if "byzfl.aggregators" in sys.modules:
        return sys.modules["byzfl.aggregators"]
    spec = importlib.util.find_spec("byzfl")
    if spec is None:
        return None
    if "byzfl" not in sys.modules:
        package = types.ModuleType("byzfl")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["byzfl"] = package
    return importlib.import_module("byzfl.aggregators")


class ByzFLMean(BaseEstimator):
    """A ByzFL aggregator in our robust-mean shape: ``fit(X).location_``.

    Parameters
    ----------
    aggregator : str
        Name of a class of ``byzfl.aggregators`` (``"CAF"``, ``"MultiKrum"``, ...).
    f : int, default=0
        Number of byzantine rows the aggregator is told (ignored by those without ``f``).
    nnm : bool, default=False
        Apply ByzFL's nearest-neighbour mixing (NNM) with the same ``f`` first.
    timeout : float or None, default=10
        Seconds after which a call that has not returned is abandoned: ``location_`` is then
        all NaN and ``timed_out_`` True (a benchmark reports it as "no result", as it
        does an aggregator that returns no vector, e.g. ``None``, or raises: ``error_``). ByzFL
        0.0.11's CAF loops forever when its largest score sits on a row it has already
        weighted to zero (its scores are not weighted: ``c *= 1 - tau / max(tau)`` leaves the
        weights unchanged from then on), e.g. after NNM on the "EigenShift, honest noise"
        family at scale 1e-3. Enforced with ``SIGALRM``, so only in a main thread (as in
        joblib's process workers); elsewhere there is no limit.
    """

    def __init__(self, aggregator="CAF", f=0, nnm=False, timeout=10.0):
        self.aggregator = aggregator
        self.f = f
        self.nnm = nnm
        self.timeout = timeout

    def fit(self, X, y=None):
        module = import_byzfl_aggregators()
        if module is None:
            raise ImportError("ByzFL is not installed: pip install --no-deps byzfl==0.0.11")
        cls = getattr(module, self.aggregator)
        try:
            agg = cls(f=self.f)
        except TypeError:
            agg = cls()
        # ByzFL's Clipping and ARC modify their input: always hand it a copy.
        vectors = np.array(X, dtype=np.float64, copy=True)

        def call():
            mixed = module.NNM(f=self.f)(vectors) if self.nnm else vectors
            return np.asarray(agg(mixed), dtype=np.float64)

        self.timed_out_ = False
        d = np.shape(X)[1]
        try:
            location = _with_time_limit(call, self.timeout)
        except _TimeLimit:
            self.timed_out_ = True
            location = np.full(d, np.nan)
        except Exception as error:  # a peer failing on an input is its result: none
            self.error_ = f"{type(error).__name__}: {error}"
            location = np.full(d, np.nan)
        # Some ByzFL aggregators return None on degenerate inputs (CAF when no round gave a
        # finite eigenvalue): no result, reported like a time-out.
        self.location_ = location if location.shape == (d,) else np.full(d, np.nan)
        return self


class _TimeLimit(Exception):
    pass


def _with_time_limit(func, seconds):
    """``func()``, interrupted by SIGALRM after ``seconds`` (main thread only)."""
    import signal
    import threading

    if seconds is None or threading.current_thread() is not threading.main_thread():
        return func()

    def handler(signum, frame):
        raise _TimeLimit

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        return func()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)
