"""aggregate_updates: structure, dtypes, devices, integer buffers, weights, equivalences."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_robust.estimators import (
    CoordinateMedian,
    GeometricMedian,
    Krum,
    MultiKrum,
    RandEigenMean,
    SampleMean,
    TrimmedMean,
    aggregate_updates,
)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _clients(n=12, n_bad=2, seed=0, dtype=torch.float32, shift=50.0):
    """State dicts of a small batch-norm net: honest noise around one model, plus outliers."""
    gen = torch.Generator().manual_seed(seed)
    base = {
        "fc.weight": torch.randn(6, 5, generator=gen),
        "fc.bias": torch.randn(6, generator=gen),
        "bn.running_mean": torch.zeros(6),
        "bn.num_batches_tracked": torch.tensor(10, dtype=torch.int64),
    }
    clients = []
    for i in range(n):
        sd = OrderedDict()
        for k, v in base.items():
            if v.is_floating_point():
                noise = 0.01 * torch.randn(v.shape, generator=gen)
                value = v + noise + (shift if i >= n - n_bad else 0.0)
                sd[k] = value.to(dtype)
            else:
                sd[k] = v + (10**9 if i >= n - n_bad else i % 3)
        clients.append(sd)
    return clients


def _stack(clients, key):
    return torch.stack([c[key].double() for c in clients])


# -- structure, kind, dtype, device -----------------------------------------------------


def test_state_dicts_keep_keys_order_type_dtypes():
    clients = _clients()
    out, details = aggregate_updates(clients, RandEigenMean(), random_state=0, return_details=True)
    assert type(out) is OrderedDict
    assert list(out) == list(clients[0])
    for key, value in out.items():
        assert isinstance(value, torch.Tensor)
        assert value.dtype == clients[0][key].dtype
        assert value.shape == clients[0][key].shape
        assert value.device == clients[0][key].device
    # The two shifted clients are removed by the model-free default (per layer).
    assert details.groups == ["fc.weight", "fc.bias", "bn.running_mean"]
    assert details.support.shape == (3, 12)
    assert not details.support[:, -2:].any()
    honest = _stack(clients[:-2], "fc.weight").mean(0)
    assert torch.allclose(out["fc.weight"].double(), honest, atol=1e-2)


def test_integer_buffer_is_a_kept_clients_lower_median():
    clients = _clients()
    out = aggregate_updates(clients, RandEigenMean(), by="model", random_state=0)
    # Honest counters are 10 + (i % 3); the byzantine 1e9 counters are not voters.
    assert out["bn.num_batches_tracked"].dtype == torch.int64
    assert int(out["bn.num_batches_tracked"]) == 11
    # Without a filter (the plain mean keeps everyone) the lower median still ignores them.
    out_mean = aggregate_updates(clients, SampleMean())
    assert int(out_mean["bn.num_batches_tracked"]) in (10, 11, 12)


def test_bool_layer_is_a_majority_vote():
    clients = [
        {"w": np.full(3, float(i)), "mask": np.array([i < 3, True, False])} for i in range(5)
    ]
    out = aggregate_updates(clients, SampleMean())
    assert out["mask"].dtype == bool
    assert out["mask"].tolist() == [True, True, False]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_low_precision_tensors_come_back_in_their_dtype(dtype):
    clients = _clients(dtype=dtype)
    out = aggregate_updates(clients, CoordinateMedian())
    for key in ("fc.weight", "fc.bias"):
        assert out[key].dtype == dtype
        expected = torch.stack([c[key].double() for c in clients]).median(0)
        # torch's median is the lower median; ours averages the two middle values.
        lower = expected.values
        assert torch.allclose(out[key].double(), lower, atol=0.05, rtol=0.02)


def test_requires_grad_tensors_build_no_graph():
    clients = [
        [torch.randn(4, 3, requires_grad=True) * 1.0, torch.randn(3, requires_grad=True)]
        for _ in range(8)
    ]
    assert clients[0][0].grad_fn is not None
    for aggregator in (RandEigenMean(random_state=0), TrimmedMean(), Krum(n_byzantine=1)):
        for by in ("layer", "model"):
            out = aggregate_updates(clients, aggregator, by=by)
            assert type(out) is list
            for value, leaf in zip(out, clients[0]):
                assert isinstance(value, torch.Tensor)
                assert not value.requires_grad and value.grad_fn is None
                assert value.shape == leaf.shape and value.dtype == leaf.dtype


def test_lists_and_tuples_of_tensors_keep_their_container():
    rng = np.random.default_rng(0)
    as_tuples = [
        tuple(torch.as_tensor(rng.normal(size=s)) for s in [(2, 2), (3,)]) for _ in range(6)
    ]
    out = aggregate_updates(as_tuples, SampleMean())
    assert type(out) is tuple and all(isinstance(v, torch.Tensor) for v in out)
    assert out[0].dtype == torch.float64
    expected = torch.stack([c[0] for c in as_tuples]).mean(0)
    assert torch.allclose(out[0], expected)


def test_numpy_in_numpy_out_and_stacked_matrix():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 3, 4)).astype(np.float32)
    out = aggregate_updates(X, SampleMean())
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (3, 4)
    np.testing.assert_allclose(out, X.mean(0), atol=1e-6)
    listed = aggregate_updates(list(X), SampleMean())
    np.testing.assert_array_equal(listed, out)
    tensor = aggregate_updates(torch.as_tensor(X), SampleMean())
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor.numpy(), out, atol=1e-6)


def test_inputs_never_modified():
    clients = _clients()
    before = [{k: v.clone() for k, v in c.items()} for c in clients]
    aggregate_updates(clients, RandEigenMean(), random_state=0)
    for c, b in zip(clients, before):
        for k in c:
            assert torch.equal(c[k], b[k])


@CUDA
def test_cuda_tensors_stay_on_their_device():
    clients = [{k: v.cuda() for k, v in c.items()} for c in _clients()]
    for aggregator in (RandEigenMean(random_state=0), CoordinateMedian()):
        out = aggregate_updates(clients, aggregator, by="model")
        assert all(v.device.type == "cuda" for v in out.values())
        assert out["fc.weight"].dtype == torch.float32


# -- equivalences with the robust means ----------------------------------------------------


def test_by_model_equals_the_robust_mean_of_the_flattened_model():
    clients = _clients(n=15, n_bad=3)
    floating = ["fc.weight", "fc.bias", "bn.running_mean"]
    X = torch.cat([_stack(clients, k).reshape(15, -1) for k in floating], 1).float().numpy()
    for aggregator in (MultiKrum(n_byzantine=3), TrimmedMean(trim=0.2), GeometricMedian()):
        out = aggregate_updates(clients, aggregator, by="model")
        flat = torch.cat([out[k].double().reshape(-1) for k in floating]).numpy()
        expected = aggregator.fit(X).location_
        np.testing.assert_allclose(flat, expected.astype(np.float32), rtol=1e-6, atol=1e-6)


def test_rand_eigen_tensor_path_equals_numpy_path():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 500)).astype(np.float32)
    X[16:] += 5.0
    est = RandEigenMean(eps=0.2)
    out_np, det_np = aggregate_updates(X, est, random_state=3, return_details=True)
    out_t, det_t = aggregate_updates(torch.as_tensor(X), est, random_state=3, return_details=True)
    np.testing.assert_array_equal(det_np.support, det_t.support)
    np.testing.assert_allclose(out_t.numpy(), out_np, rtol=1e-6, atol=1e-7)
    assert not det_np.support[0, 16:].any()


def test_same_seed_same_result_and_fixed_random_state_respected():
    clients = _clients(n=20, n_bad=4)
    a = aggregate_updates(clients, RandEigenMean(), random_state=7)
    b = aggregate_updates(clients, RandEigenMean(), random_state=7)
    assert all(torch.equal(a[k], b[k]) for k in a)


# -- client weights ------------------------------------------------------------------------


def test_weights_give_weighted_mean_of_kept_clients():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(10, 30))
    X[8:] += 100.0
    w = rng.integers(1, 50, size=10).astype(float)
    out, det = aggregate_updates(X, MultiKrum(n_byzantine=2), sample_weight=w, return_details=True)
    kept = det.kept
    assert not kept[8:].any()
    np.testing.assert_allclose(out, (w[kept] @ X[kept]) / w[kept].sum())
    # SampleMean with weights is FedAvg's weighted average.
    np.testing.assert_allclose(aggregate_updates(X, SampleMean(), sample_weight=w), w @ X / w.sum())


def test_weights_cannot_buy_a_place_in_the_filter():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(20, 200)).astype(np.float32)
    X[16:] += 20.0
    w = np.ones(20)
    w[16:] = 1e9  # byzantine clients claim a huge number of examples
    out, det = aggregate_updates(
        X, RandEigenMean(eps=0.2), sample_weight=w, random_state=0, return_details=True
    )
    assert not det.kept[16:].any()
    assert np.abs(out).max() < 2.0


def test_weights_refused_where_unsupported_and_invalid():
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match="CoordinateMedian does not take client weights"):
        aggregate_updates(X, CoordinateMedian(), sample_weight=np.ones(4))
    with pytest.raises(ValueError, match="one weight per client"):
        aggregate_updates(X, SampleMean(), sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="finite non-negative"):
        aggregate_updates(X, SampleMean(), sample_weight=[1, -1, 1, 1])


class _WeightedMedian:
    """A user aggregator whose fit takes sample_weight (passed through)."""

    def __init__(self):
        self.seen = None

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, X, sample_weight=None):
        type(self).seen = sample_weight
        self.location_ = np.median(X, axis=0)
        return self


def test_aggregator_taking_sample_weight_gets_it():
    X = np.arange(12.0).reshape(4, 3)
    aggregate_updates(X, _WeightedMedian(), sample_weight=[1, 2, 3, 4])
    np.testing.assert_array_equal(_WeightedMedian.seen, [1, 2, 3, 4])


# -- adversarial values and errors ---------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    value=st.sampled_from([np.inf, -np.inf, np.nan, 1e38, -1e38]),
    by=st.sampled_from(["layer", "model"]),
)
def test_non_finite_and_huge_byzantine_layers_never_give_nan(value, by):
    rng = np.random.default_rng(0)
    clients = [[rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=4)] for _ in range(10)]
    clients[-1][0][:] = value
    clients[-2][1][1] = value
    out = aggregate_updates(clients, RandEigenMean(), by=by, random_state=0)
    assert all(np.isfinite(v).all() for v in out)
    assert np.abs(out[0]).max() < 10


def test_one_client_is_returned_as_a_copy():
    client = {"w": torch.ones(3, requires_grad=True)}
    out, details = aggregate_updates([client], return_details=True)
    assert torch.equal(out["w"], torch.ones(3)) and not out["w"].requires_grad
    assert details.kept.tolist() == [True]


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="same keys|keys of client 0"):
        aggregate_updates([{"a": np.ones(2)}, {"b": np.ones(2)}])
    with pytest.raises(ValueError, match="shape"):
        aggregate_updates([{"a": np.ones(2)}, {"a": np.ones(3)}])
    with pytest.raises(TypeError, match="mixes numpy arrays and torch tensors"):
        aggregate_updates([{"a": np.ones(2)}, {"a": torch.ones(2)}])
    with pytest.raises(ValueError, match="dtype"):
        aggregate_updates([np.ones(2, dtype=complex)] * 2)
    with pytest.raises(ValueError, match="one row per client"):
        aggregate_updates(np.ones(3))
    with pytest.raises(ValueError, match="empty"):
        aggregate_updates([])
    with pytest.raises(ValueError, match="by"):
        aggregate_updates(np.ones((3, 2)), by="neuron")
