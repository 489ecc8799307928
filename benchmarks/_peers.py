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
    """

    def __init__(self, aggregator="CAF", f=0, nnm=False):
        self.aggregator = aggregator
        self.f = f
        self.nnm = nnm

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
        if self.nnm:
            vectors = module.NNM(f=self.f)(vectors)
        self.location_ = np.asarray(agg(vectors), dtype=np.float64)
        return self
