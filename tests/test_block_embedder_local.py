"""BlockEmbedder(training="local"): each agent trains its own extractor on the labels."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.utils.estimator_checks import check_estimator

from sklearn_robust.estimators import BlockEmbedder

N_AGENTS, DIM, WIDTH = 4, 8, 16  # blocks=4 on the 64 digit pixels: 4 bands of 16 columns
SMALL = {"blocks": N_AGENTS, "embedding_dim": 4, "lr": 1e-2, "max_epochs": 3, "batch_size": 64}


def _agent(H, k, dim):
    return H[:, k * dim : (k + 1) * dim]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def small():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


@pytest.fixture(scope="module")
def local_embedder(digits):
    X_train, _, y_train, _ = digits
    return BlockEmbedder(
        blocks=N_AGENTS,
        embedding_dim=DIM,
        lr=2e-2,
        max_epochs=10,
        batch_size=256,
        training="local",
        random_state=0,
    ).fit(X_train, y_train)


def test_local_fits_one_net_per_agent(local_embedder):
    assert len(local_embedder.nets_) == N_AGENTS
    assert local_embedder.blocks_out_ == [DIM] * N_AGENTS
    names = local_embedder.get_feature_names_out()
    assert names.shape == (N_AGENTS * DIM,)
    assert names[DIM] == "agent1_emb0"
    for k, net in enumerate(local_embedder.nets_):
        module = net.module_
        assert module.embedding_dims == (DIM,)
        np.testing.assert_array_equal(module.index_0.numpy(), np.arange(k * WIDTH, (k + 1) * WIDTH))


def test_each_local_embedding_alone_classifies(local_embedder, digits):
    # Measured (seed 0, 10 epochs): LogisticRegression on one agent's 8-dim embedding scores
    # 0.56 0.72 0.70 0.62 on the test split, against 0.58 0.75 0.73 0.62 on that agent's 16
    # raw pixels (ratios >= 0.95); the joint embedder's agents score 0.48 0.70 0.57 0.63
    # (ratios down to 0.79): they specialise.
    X_train, X_test, y_train, y_test = digits
    H_train, H_test = local_embedder.transform(X_train), local_embedder.transform(X_test)
    for k in range(N_AGENTS):
        cols = slice(k * WIDTH, (k + 1) * WIDTH)
        raw = LogisticRegression(max_iter=2000).fit(X_train[:, cols], y_train)
        raw_acc = raw.score(X_test[:, cols], y_test)
        clf = LogisticRegression(max_iter=2000).fit(_agent(H_train, k, DIM), y_train)
        acc = clf.score(_agent(H_test, k, DIM), y_test)
        assert acc > 0.5, (k, acc)
        assert acc > 0.85 * raw_acc, (k, acc, raw_acc)


@pytest.mark.parametrize("training", ["local", "joint"])
def test_agent_embedding_reads_only_its_columns(training, small):
    X, y = small
    embedder = BlockEmbedder(**SMALL, training=training, random_state=0).fit(X, y)
    rng = np.random.default_rng(0)
    X_other = X.copy()
    X_other[:, WIDTH:] = rng.normal(size=(X.shape[0], X.shape[1] - WIDTH))
    H, H_other = embedder.transform(X), embedder.transform(X_other)
    np.testing.assert_array_equal(_agent(H, 0, 4), _agent(H_other, 0, 4))
    assert not np.array_equal(H[:, 4:], H_other[:, 4:])


def _fit_with_agent0_replaced(training, X, y, X0):
    """Embeddings of X (agent 0 as given) by an embedder trained with agent 0's columns X0."""
    X_train = X.copy()
    X_train[:, :WIDTH] = X0
    embedder = BlockEmbedder(**SMALL, training=training, random_state=0).fit(X_train, y)
    return embedder, embedder.transform(X)


def test_local_training_is_independent_of_other_agents(small):
    X, y = small
    noise = np.random.default_rng(1).normal(size=(X.shape[0], WIDTH))
    local, H = _fit_with_agent0_replaced("local", X, y, X[:, :WIDTH])
    local_noise, H_noise = _fit_with_agent0_replaced("local", X, y, noise)
    # Agents 1..3 learnt exactly the same weights and embeddings; agent 0 did not.
    np.testing.assert_array_equal(H[:, 4:], H_noise[:, 4:])
    for k in range(1, N_AGENTS):
        a, b = local.nets_[k].module_.state_dict(), local_noise.nets_[k].module_.state_dict()
        assert all(torch.equal(a[key], b[key]) for key in a)
    assert not np.array_equal(_agent(H, 0, 4), _agent(H_noise, 0, 4))

    # Jointly trained, every agent's extractor depends on agent 0's training data.
    _, H_joint = _fit_with_agent0_replaced("joint", X, y, X[:, :WIDTH])
    _, H_joint_noise = _fit_with_agent0_replaced("joint", X, y, noise)
    for k in range(1, N_AGENTS):
        assert not np.allclose(_agent(H_joint, k, 4), _agent(H_joint_noise, k, 4))


def test_local_agent_trains_on_its_own_observed_rows(small):
    # Agent 0 missing in a third of the training rows: in local mode the other agents still
    # train on every row, so their nets are those of the complete data.
    X, y = small
    X_missing = X.copy()
    X_missing[::3, 2] = np.nan
    full = BlockEmbedder(**SMALL, training="local", random_state=0).fit(X, y)
    part = BlockEmbedder(**SMALL, training="local", random_state=0).fit(X_missing, y)
    H_full, H_part = full.transform(X), part.transform(X)
    np.testing.assert_array_equal(H_full[:, 4:], H_part[:, 4:])
    assert not np.array_equal(_agent(H_full, 0, 4), _agent(H_part, 0, 4))

    X_missing[:, 2] = np.nan
    with pytest.raises(ValueError, match="agent 0 is observed, but all 300 rows"):
        BlockEmbedder(**SMALL, training="local").fit(X_missing, y)


def test_local_same_random_state_same_output(small):
    X, y = small
    H1 = BlockEmbedder(**SMALL, training="local", random_state=3).fit_transform(X, y)
    H2 = BlockEmbedder(**SMALL, training="local", random_state=3).fit_transform(X, y)
    H3 = BlockEmbedder(**SMALL, training="local", random_state=4).fit_transform(X, y)
    np.testing.assert_array_equal(H1, H2)
    assert not np.array_equal(H1, H3)


def test_local_agents_get_different_seeds():
    # Four agents with identical columns and labels: only their seeds tell them apart.
    X, y = load_digits(return_X_y=True)
    X = np.tile(X[:300, :WIDTH] / 16.0, (1, N_AGENTS))
    H = BlockEmbedder(**SMALL, training="local", random_state=0).fit_transform(X, y[:300])
    blocks = [_agent(H, k, 4) for k in range(N_AGENTS)]
    assert all(not np.array_equal(blocks[0], b) for b in blocks[1:])


def test_local_missing_and_corrupted_agents(local_embedder, digits):
    X = digits[1][:20].copy()
    X[0, WIDTH + 3] = np.nan  # agent 1 missing in row 0
    X[1, 2 * WIDTH] = np.inf  # agent 2 corrupted in row 1
    X[2, 3 * WIDTH] = 1e300  # beyond float32: agent 3 corrupted in row 2
    H = local_embedder.transform(X)
    nan = np.isnan(H)
    assert nan[0, DIM : 2 * DIM].all()
    assert nan.sum() == DIM  # NaN only in the missing agent's block
    # inf and 1e300 are clipped to the float32 range: huge (or inf on overflow), never NaN.
    assert np.abs(H[1, 2 * DIM : 3 * DIM]).max() > 1e30
    assert np.abs(H[2, 3 * DIM :]).max() > 1e30
    np.testing.assert_array_equal(
        H[3:], local_embedder.transform(digits[1][:20])[3:]
    )  # other rows untouched


def test_local_torch_forward_matches_transform(local_embedder, digits):
    X = digits[1][:30]
    X_t = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    H_t = local_embedder._torch_forward(X_t)
    np.testing.assert_allclose(H_t.detach().numpy(), local_embedder.transform(X), rtol=1e-5)
    # Agent 1's embedding is differentiable and depends on agent 1's columns only.
    H_t[:, DIM : 2 * DIM].sum().backward()
    grad = X_t.grad.numpy()
    assert np.abs(grad[:, WIDTH : 2 * WIDTH]).sum() > 0
    assert not grad[:, :WIDTH].any() and not grad[:, 2 * WIDTH :].any()


def test_training_param_clone_get_set():
    embedder = BlockEmbedder(training="local")
    assert embedder.get_params()["training"] == "local"
    assert BlockEmbedder().training == "joint"
    assert clone(embedder).training == "local"
    assert embedder.set_params(training="joint").training == "joint"


def test_training_bad_value(small):
    X, y = small
    with pytest.raises(ValueError, match="'training' parameter of BlockEmbedder must be"):
        BlockEmbedder(**SMALL, training="federated").fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")  # array API check
def test_local_passes_the_estimator_checks():
    # tests/test_common.py checks the default (joint) embedder; the local one shares the code
    # but trains one net per agent.
    check_estimator(
        BlockEmbedder(embedding_dim=4, max_epochs=3, batch_size=32, training="local"),
    )
