"""CoPur's detection options: calibrated thresholds and the leave-one-out consistency check.

The subspace fixture is the exact-recovery setting of tests/test_copur.py (an isometric
subspace and a linear autoencoder trained to float32 precision): there a clean block is
reproduced by the other blocks exactly, so its leave-one-out residual is ~0, while a block
of another row, genuine but inconsistent with this row's other blocks, is far off.
"""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sklearn_robust.datasets import make_block_manifold
from sklearn_robust.estimators import CoPurTransformer
from sklearn_robust.nets import AutoencoderNet

N_BLOCKS, WIDTH, LATENT = 8, 6, 4


def _exact_autoencoder():
    return AutoencoderNet(
        module__latent_dim=LATENT,
        module__hidden_layer_sizes=(),
        optimizer=torch.optim.LBFGS,
        optimizer__line_search_fn="strong_wolfe",
        lr=1.0,
        max_epochs=30,
        batch_size=-1,
        train_split=None,
        random_state=0,
    )


@pytest.fixture(scope="module")
def subspace():
    ds = make_block_manifold(
        500, n_blocks=N_BLOCKS, block_width=WIDTH, latent_dim=LATENT, manifold="isometric",
        random_state=0,
    )
    X = ds.data_clean
    copur = CoPurTransformer(
        blocks=N_BLOCKS, autoencoder=_exact_autoencoder(), detection="consistency",
        random_state=0,
    ).fit(X[:400])
    return X[:400], X[400:], copur


@pytest.fixture(scope="module")
def noisy():
    """A noisy manifold with an imperfect autoencoder: residuals of clean rows are spread."""
    ds = make_block_manifold(
        1200, n_blocks=4, block_width=4, latent_dim=3, noise=0.1, random_state=1
    )
    ae = AutoencoderNet(module__latent_dim=3, max_epochs=60, random_state=0)
    return ds.data[:800], ds.data[800:], ae


def test_swapped_genuine_block_is_caught_by_consistency_alone(subspace):
    _, X_test, copur = subspace
    H = X_test[:40].copy()
    H[:, :WIDTH] = X_test[40:80, :WIDTH]  # agent 0 sends another input's (genuine) block
    _, details = copur.purify(H, return_details=True)
    assert details.corrupted[:, 0].all()
    assert not details.corrupted[:, 1:].any()
    # the swapped block does not fit the others; the clean ones do, to float precision
    typical = np.linalg.norm(X_test[:, :WIDTH], axis=1).mean()
    assert np.nanmin(details.consistency[:, 0]) > 0.1 * typical
    clean = details.consistency[:, 1:]
    assert np.nanmax(clean[np.isfinite(clean)]) < 1e-2 * typical


def test_consistency_keeps_exact_recovery_and_reports_nan_without_it(subspace):
    X_train, X_test, copur = subspace
    rng = np.random.RandomState(0)
    H = X_test[:30].copy()
    for row in range(len(H)):
        for b in rng.choice(N_BLOCKS, 3, replace=False):
            H[row, WIDTH * b : WIDTH * (b + 1)] *= -100
    purified = copur.transform(H)
    error = np.linalg.norm(purified - X_test[:30], axis=1) / np.linalg.norm(X_test[:30], axis=1)
    assert error.max() <= 1e-2
    plain = clone(copur).set_params(detection="residual").fit(X_train)
    _, details = plain.purify(H, return_details=True)
    assert np.isnan(details.consistency).all()
    assert not hasattr(plain, "consistency_threshold_")


@pytest.mark.parametrize("flag_rate", [0.02, 0.1])
def test_calibrated_thresholds_flag_clean_blocks_at_about_the_flag_rate(noisy, flag_rate):
    X_train, X_test, ae = noisy
    copur = CoPurTransformer(blocks=4, autoencoder=ae, detection="calibrated",
                             flag_rate=flag_rate, random_state=0).fit(X_train)
    legacy = CoPurTransformer(blocks=4, autoencoder=ae, random_state=0).fit(X_train)
    assert np.all(copur.residual_threshold_ < legacy.residual_threshold_)
    _, details = copur.purify(X_test, return_details=True)
    rate = details.corrupted.mean()
    # held-out clean rows: about the calibrated rate (in-sample calibration, so a bit more)
    assert 0.3 * flag_rate <= rate <= 3 * flag_rate + 0.01, rate


def test_consistency_threshold_is_calibrated_on_clean_rows(noisy):
    X_train, X_test, ae = noisy
    copur = CoPurTransformer(blocks=4, autoencoder=ae, detection="consistency",
                             flag_rate=0.05, random_state=0).fit(X_train)
    _, details = copur.purify(X_test, return_details=True)
    observed_rate = np.mean(details.consistency > copur.consistency_threshold_)
    assert observed_rate <= 3 * 0.05 + 0.01
    assert details.corrupted.mean() <= 4 * 0.05 + 0.02
    # fewer than half of the blocks are ever dropped: at most one of four here
    assert details.corrupted.sum(axis=1).max() <= 4  # flagged may exceed dropped
    assert (~np.isnan(details.consistency)).all()


def test_detection_options_are_validated(noisy):
    X_train, _, ae = noisy
    with pytest.raises(ValueError, match="detection"):
        CoPurTransformer(blocks=4, detection="bogus").fit(X_train)
    with pytest.raises(ValueError, match="flag_rate"):
        CoPurTransformer(blocks=4, detection="calibrated", flag_rate=1.5).fit(X_train)
