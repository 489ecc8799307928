"""Everything an attacker does: poisoning and inference-time adversaries.

Poisoning adversaries (the RandEigen threat model) replace the byzantine rows of a matrix of
honest updates with ``fit_poison(X)``: :class:`ALIE`, :class:`ConstantShift`,
:class:`GaussianNoise`, :class:`HiDRA`, :class:`IPM`, :class:`SignFlip` and :class:`TMA`
(Fang et al.'s attack on trimmed mean and median). The optimised attacks search for the
largest shift a defense still accepts: :class:`MinMax` and :class:`MinSum` (any defense)
and :class:`KrumAttack` (Krum). The adaptive families against spectral filters place the
byzantine rows where such a filter sees least: :class:`EigenShift` (along the honest top
eigenvector), :class:`OrthogonalSpikes` (one spike per row, below the bulk),
:class:`HullPoints` and :class:`Mimic` (copies of honest rows).
:class:`Backdoor` (model replacement) and :class:`DBA` (the trigger split across the
byzantine clients) also poison the byzantine clients' local data (a trigger relabelled to a
target class) before boosting their updates; :class:`MPA` (targeted model poisoning) trains
the byzantine update itself, with explicit boosting and a stealth term.

Inference-time adversaries (the CoPur threat model) corrupt some agents' feature blocks:
``fit``/``fit_transform`` leave the clean training data untouched and ``transform`` attacks,
so ``Pipeline([attack, defense, classifier])`` trains clean and predicts under attack:
:class:`MissingBlocks` (missing agents), :class:`FeatureFlip` (the paper's flip attack),
:class:`BlockNoise` (unbounded noise) and :class:`CombinedAttack` (several in sequence).

White-box and adaptive inference-time attacks need the fitted model (``attack(X, y,
estimator=...)`` or :func:`~sklearn_robust.metrics.make_robust_scorer`): :class:`PGDAttack`
(the CoPur paper's attack and Madry et al.'s PGD), and the evaluation suite for
purification defenses: :class:`AdaptivePGDAttack` (normalised steps, schedule, restarts,
per-row best iterate), :class:`ThresholdAwareAttack` (stays under the purifier's detection
threshold), :class:`BlockReplacementAttack` (genuine blocks of other inputs, line search)
and :class:`EnsembleAttack`, which keeps per row the strongest of them
(:func:`default_attack_suite`). Robustness figures of the library are quoted under
:class:`EnsembleAttack`.
"""

from sklearn_robust.adversaries._adaptive_pgd import AdaptivePGDAttack
from sklearn_robust.adversaries._alie import ALIE
from sklearn_robust.adversaries._backdoor import Backdoor
from sklearn_robust.adversaries._block_noise import BlockNoise
from sklearn_robust.adversaries._block_replacement import BlockReplacementAttack
from sklearn_robust.adversaries._combined_attack import CombinedAttack
from sklearn_robust.adversaries._constant_shift import ConstantShift
from sklearn_robust.adversaries._dba import DBA
from sklearn_robust.adversaries._eigen_shift import EigenShift
from sklearn_robust.adversaries._ensemble_attack import EnsembleAttack, default_attack_suite
from sklearn_robust.adversaries._feature_flip import FeatureFlip
from sklearn_robust.adversaries._gaussian_noise import GaussianNoise
from sklearn_robust.adversaries._hidra import HiDRA
from sklearn_robust.adversaries._hull_points import HullPoints
from sklearn_robust.adversaries._ipm import IPM
from sklearn_robust.adversaries._krum_attack import KrumAttack
from sklearn_robust.adversaries._mimic import Mimic
from sklearn_robust.adversaries._min_max import MinMax
from sklearn_robust.adversaries._min_sum import MinSum
from sklearn_robust.adversaries._missing_blocks import MissingBlocks
from sklearn_robust.adversaries._mpa import MPA
from sklearn_robust.adversaries._orthogonal_spikes import OrthogonalSpikes
from sklearn_robust.adversaries._pgd import PGDAttack
from sklearn_robust.adversaries._sign_flip import SignFlip
from sklearn_robust.adversaries._threshold_aware import ThresholdAwareAttack
from sklearn_robust.adversaries._tma import TMA

__all__ = [
    "ALIE",
    "AdaptivePGDAttack",
    "Backdoor",
    "BlockNoise",
    "BlockReplacementAttack",
    "CombinedAttack",
    "ConstantShift",
    "DBA",
    "EigenShift",
    "EnsembleAttack",
    "FeatureFlip",
    "GaussianNoise",
    "HiDRA",
    "HullPoints",
    "IPM",
    "KrumAttack",
    "MPA",
    "Mimic",
    "MinMax",
    "MinSum",
    "MissingBlocks",
    "OrthogonalSpikes",
    "PGDAttack",
    "SignFlip",
    "TMA",
    "ThresholdAwareAttack",
    "default_attack_suite",
]
