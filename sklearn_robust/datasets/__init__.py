"""Block-structured datasets: each row is split into the feature blocks of several agents.

* :func:`load_digits_agents` -- the built-in default dataset (scikit-learn's digits, image
  bands as agents), no download needed;
* :func:`make_block_manifold` -- synthetic data on a known linear or curved manifold;
* :func:`load_extrasensory` and :func:`load_nus_wide` -- the CoPur paper's real datasets,
  read from the files a user downloads;
* :func:`load_mnist` (MNIST, Fashion-MNIST) and :func:`load_cifar10` -- the image datasets
  of the RandEigen paper's federated experiments, read from the official files a user
  downloads (IDX, CIFAR-10 python batches); they return flat pixel rows and no blocks.

Every block-structured loader returns ``blocks``, a list of block widths (or, for
``load_digits_agents(split="polyphase")``, of each agent's column indices) accepted by the
``blocks`` parameter of every block-aware object (see :func:`sklearn_robust.base.check_blocks`).
"""

from sklearn_robust.datasets._digits import load_digits_agents
from sklearn_robust.datasets._extrasensory import load_extrasensory
from sklearn_robust.datasets._images import load_cifar10, load_mnist
from sklearn_robust.datasets._nus_wide import load_nus_wide
from sklearn_robust.datasets._synthetic import make_block_manifold

__all__ = [
    "load_cifar10",
    "load_digits_agents",
    "load_extrasensory",
    "load_mnist",
    "load_nus_wide",
    "make_block_manifold",
]
