"""Everything a defender fits: robust means, purifiers and robust classifiers."""

from sklearn_robust.estimators._adversarial_training import AdversarialTrainingClassifier
from sklearn_robust.estimators._block_embedder import BlockEmbedder
from sklearn_robust.estimators._centered_clipping import CenteredClipping
from sklearn_robust.estimators._coordinate_median import CoordinateMedian
from sklearn_robust.estimators._copur import CoPurTransformer
from sklearn_robust.estimators._federated import FederatedClassifier, partition_clients
from sklearn_robust.estimators._filtering import FilteringMean
from sklearn_robust.estimators._fusion_classifier import MLPFusionClassifier
from sklearn_robust.estimators._geometric_median import GeometricMedian
from sklearn_robust.estimators._krum import Krum, MultiKrum
from sklearn_robust.estimators._manifold_projection import ManifoldProjection
from sklearn_robust.estimators._model_aggregation import aggregate_updates
from sklearn_robust.estimators._no_regret import NoRegretMean
from sklearn_robust.estimators._rand_eigen import RandEigenMean, rand_eigen_mean
from sklearn_robust.estimators._randomized_ablation import RandomizedAblationClassifier
from sklearn_robust.estimators._randomized_smoothing import RandomizedSmoothingClassifier
from sklearn_robust.estimators._robust_gradient import RobustGradientClassifier
from sklearn_robust.estimators._sample_mean import SampleMean
from sklearn_robust.estimators._trimmed_mean import TrimmedMean

__all__ = [
    "AdversarialTrainingClassifier",
    "BlockEmbedder",
    "CenteredClipping",
    "CoPurTransformer",
    "CoordinateMedian",
    "FederatedClassifier",
    "FilteringMean",
    "GeometricMedian",
    "Krum",
    "MLPFusionClassifier",
    "ManifoldProjection",
    "MultiKrum",
    "NoRegretMean",
    "RandEigenMean",
    "RandomizedAblationClassifier",
    "RandomizedSmoothingClassifier",
    "RobustGradientClassifier",
    "SampleMean",
    "TrimmedMean",
    "aggregate_updates",
    "partition_clients",
    "rand_eigen_mean",
]
