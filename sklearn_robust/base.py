"""Public bases of sklearn-robust, for users who write their own defenses or attacks.

Each shared piece lives in its own private module; this module gathers the public names:

* :class:`BaseRobustMean` and :func:`is_robust_mean` (``sklearn_robust._robust_mean_base``)
  -- a robust location estimator shaped like scikit-learn's ``MinCovDet``: ``fit(X)`` sets
  ``location_`` (and ``support_`` where rows are selected); subclasses implement
  ``_fit(X, random_state)`` on a validated float array.
* :class:`BasePoisoningAdversary`, :class:`BaseInferenceAdversary` and :func:`is_adversary`
  (``sklearn_robust._adversary_base``) -- attacks on training updates (``fit_poison``) and
  on agents' feature blocks at inference (``transform`` / ``attack``), in the spirit of
  imbalanced-learn's ``fit_resample``: the public method validates, the private hook
  computes.
* :class:`BlockLayout` and :func:`check_blocks` (``sklearn_robust._layout``) -- the block
  layout helper every block-aware object uses.
"""

from sklearn_robust._adversary_base import (
    BaseInferenceAdversary,
    BasePoisoningAdversary,
    is_adversary,
)
from sklearn_robust._layout import BlockLayout, check_blocks
from sklearn_robust._robust_mean_base import BaseRobustMean, is_robust_mean

__all__ = [
    "BaseInferenceAdversary",
    "BasePoisoningAdversary",
    "BaseRobustMean",
    "BlockLayout",
    "check_blocks",
    "is_adversary",
    "is_robust_mean",
]
