"""torch modules and their skorch wrappers, seeded without touching global RNGs.

* :class:`MLPAutoencoder`, :class:`AutoencoderNet` -- the autoencoder ``D(E(.))`` of CoPur.
* :class:`MLPModule` -- a plain MLP (the fusion head of classifiers).
* :class:`BlockEmbedderModule` -- per-agent local extractors and a fusion head.
* :func:`make_torch_generator`, :func:`reset_linear_parameters`, :class:`SeededNetMixin`,
  :func:`local_torch_rng` -- reproducible training from a scikit-learn ``random_state``.
"""

from sklearn_robust.nets._autoencoder import AutoencoderNet
from sklearn_robust.nets._modules import BlockEmbedderModule, MLPAutoencoder, MLPModule
from sklearn_robust.nets._seeding import (
    SeededNetMixin,
    SeededNeuralNet,
    SeededNeuralNetClassifier,
    local_torch_rng,
    make_torch_generator,
    reset_linear_parameters,
)

__all__ = [
    "AutoencoderNet",
    "BlockEmbedderModule",
    "MLPAutoencoder",
    "MLPModule",
    "SeededNetMixin",
    "SeededNeuralNet",
    "SeededNeuralNetClassifier",
    "local_torch_rng",
    "make_torch_generator",
    "reset_linear_parameters",
]
