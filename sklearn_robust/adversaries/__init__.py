"""Everything an attacker does: poisoning and inference-time adversaries.

Poisoning adversaries (the RandEigen threat model) replace the byzantine rows of a matrix of
honest updates with ``fit_poison(X)``: :class:`ALIE`, :class:`ConstantShift`,
:class:`GaussianNoise`, :class:`HiDRA`, :class:`IPM` and :class:`SignFlip`.
"""

from sklearn_robust.adversaries._alie import ALIE
from sklearn_robust.adversaries._constant_shift import ConstantShift
from sklearn_robust.adversaries._gaussian_noise import GaussianNoise
from sklearn_robust.adversaries._hidra import HiDRA
from sklearn_robust.adversaries._ipm import IPM
from sklearn_robust.adversaries._sign_flip import SignFlip

__all__ = [
    "ALIE",
    "ConstantShift",
    "GaussianNoise",
    "HiDRA",
    "IPM",
    "SignFlip",
]
