"""RandEigenMean: randomised spectral filtering with an eigenvalue-convergence stop."""

import numbers

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from sklearn_robust._device import check_device
from sklearn_robust._numerics._backend import get_namespace, is_torch
from sklearn_robust._numerics._spectral_filter import default_chunk_size, rand_eigen_filter
from sklearn_robust._robust_mean_base import BaseRobustMean

_PARAMETER_CONSTRAINTS = {
    "eps": [Interval(numbers.Real, 0, 0.5, closed="neither")],
    "projection": [StrOptions({"auto", "gram", "jl"})],
    "n_components": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "removal": [StrOptions({"squared", "linear"})],
    "max_removed": [Interval(numbers.Integral, 0, None, closed="left"), None],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "chunk_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "device": "no_validation",
    "random_state": ["random_state"],
}


def _generator(random_state):
    """A ``numpy.random.Generator`` from None, an int, a RandomState or a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(check_random_state(random_state).randint(2**32, dtype=np.uint64))


_NON_NUMERIC = {
    "c": "complex",
    "M": "datetime64",
    "m": "timedelta64",
    "U": "string",
    "S": "bytes",
    "V": "structured",
}


def _check_matrix(X):
    """Validate the array-level input without copying it; return it unchanged.

    Real floating arrays and tensors pass as they are (a tensor that requires grad is
    detached: no autograd graph is built); integer and boolean numpy arrays are converted to
    float64; complex, datetime, string and other non-real inputs are refused.
    """
    get_namespace(X)
    if is_torch(X):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {tuple(X.shape)}.")
        if X.is_complex() or not X.is_floating_point():
            raise ValueError(
                f"X must hold real floating-point values; got a tensor of dtype {X.dtype}. "
                "Convert it with X.float() (or take the real part) first."
            )
        X = X.detach()
        shape = tuple(X.shape)
    else:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}.")
        kind = X.dtype.kind
        if kind in _NON_NUMERIC:
            raise ValueError(
                f"X must be numeric (real numbers); got dtype {X.dtype} ({_NON_NUMERIC[kind]}). "
                "Pass real-valued updates (e.g. np.real(X) or X.astype(float) if meaningful)."
            )
        if kind != "f":
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"X must be numeric; could not convert dtype {X.dtype} to float ({exc})."
                ) from None
            if np.iscomplexobj(X):
                raise ValueError("X must hold real numbers; got complex values.")
        shape = X.shape
    if shape[0] < 2:
        raise ValueError(f"X needs at least 2 rows to aggregate; got shape {shape}.")
    if shape[1] < 1:
        raise ValueError(f"X needs at least 1 column; got shape {shape}.")
    return X


def _output_dtype(X, dtype):
    """The dtype of the returned location: ``dtype``, else ``X``'s floating dtype."""
    if dtype is None:
        return X.dtype
    if is_torch(X):
        import torch

        if isinstance(dtype, torch.dtype):
            return dtype
        return getattr(torch, np.dtype(dtype).name)
    if type(dtype).__module__.startswith("torch"):
        return np.dtype(str(dtype).replace("torch.", ""))
    return np.dtype(dtype)


def _numpy_float_dtype(dtype):
    """``dtype`` as a numpy float16/32/64 dtype (torch or numpy spelling), else None."""
    name = str(dtype).replace("torch.", "")
    return np.dtype(name) if name in ("float16", "float32", "float64") else None


# Torch dtypes whose CPU tensors have a zero-copy numpy view (float16 included: the kernels
# read it in float32 chunks either way; bfloat16 has no numpy dtype and stays on torch).
_NUMPY_VIEWABLE = frozenset({"torch.float16", "torch.float32", "torch.float64"})


@validate_params(
    {
        "X": ["array-like"],
        **_PARAMETER_CONSTRAINTS,
        "random_state": ["random_state", np.random.Generator],
        "dtype": "no_validation",
        "return_details": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def rand_eigen_mean(
    X,
    *,
    eps=0.2,
    projection="auto",
    n_components=None,
    removal="squared",
    max_removed=None,
    tol=0.1,
    max_iter=None,
    chunk_size=None,
    device=None,
    random_state=None,
    dtype=None,
    return_details=False,
):
    """RandEigen robust mean of the rows of ``X`` (numpy array or torch tensor).

    Array-level version of :class:`RandEigenMean` for federated and training code: a torch
    tensor stays on its device and the result is a tensor on that device, a numpy array gives
    a numpy result, both of the input's floating dtype unless ``dtype`` says otherwise (the
    survivors' mean is accumulated in float64 either way). A tensor that requires grad is
    read without building an autograd graph. See :class:`RandEigenMean` for the algorithm and
    parameters.

    Parameters
    ----------
    X : ndarray or torch.Tensor of shape (n_samples, n_features)
        Rows to aggregate (real values; integer and boolean arrays are read as float64).
        Rows holding NaN or inf are outliers. Never modified.
    eps : float, default=0.2
        Assumed fraction of adversarial rows, in (0, 0.5).
    projection : {"auto", "gram", "jl"}, default="auto"
        Exact spectrum from the Gram matrix, or the Johnson-Lindenstrauss sketch.
    n_components : int, default=None
        Width k of the sketch; None gives ``min(floor(100 ln d), d)``.
    removal : {"squared", "linear"}, default="squared"
        Outlier score: squared or absolute projection on the dominant direction.
    max_removed : int, default=None
        Most rows the filter may remove; None gives ``floor(2 eps n)``.
    tol : float, default=0.1
        Relative excess of the dominant eigenvalue over the level a clean spectrum reaches
        below which the filter has converged.
    max_iter : int, default=None
        Cap on filtering rounds; None means no cap beyond ``max_removed``.
    chunk_size : int, default=None
        Columns read at a time; None keeps each float64 block near 16 MiB.
    device : str or torch.device, default=None
        Where to compute for a numpy input (``"cuda"`` moves the data there, the result comes
        back as numpy). Ignored for a tensor, which is processed on its own device.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed of the removal draws and of the sketch.
    dtype : numpy or torch dtype, default=None
        Dtype of the returned location; None keeps ``X``'s floating dtype (float64 for an
        integer array).
    return_details : bool, default=False
        Also return a dict with ``support``, ``eigenvalues``, ``n_iter``, ``stop_reason``.

    Returns
    -------
    location : ndarray or torch.Tensor of shape (n_features,)
        The robust mean, of the same kind, device and (by default) dtype as ``X``.
    details : dict
        Only when ``return_details=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import rand_eigen_mean
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 200))
    >>> X[:10] += 30.0                       # ten poisoned rows
    >>> mean = rand_eigen_mean(X, random_state=0)
    >>> bool(np.linalg.norm(mean) < np.linalg.norm(X.mean(axis=0)) / 5)
    True
    """
    X = _check_matrix(X)
    numpy_in = not is_torch(X)
    out_dtype = _output_dtype(X, dtype)
    if numpy_in and device is not None:
        resolved = check_device(device, "rand_eigen_mean")
        if resolved.type != "cpu":
            import torch

            X = torch.from_numpy(np.ascontiguousarray(X)).to(resolved)
    tensor_out = not numpy_in
    if tensor_out and X.device.type == "cpu" and str(X.dtype) in _NUMPY_VIEWABLE:
        # A CPU tensor is read through a zero-copy numpy view: numpy's kernels are the
        # faster of the two on the CPU (no per-op dispatch, fused reductions), and both
        # paths compute the same thing.
        X = X.detach().resolve_conj().resolve_neg().numpy()
    n_samples = X.shape[0]
    result = rand_eigen_filter(
        X,
        eps=eps,
        projection=projection,
        n_components=n_components,
        removal=removal,
        max_removed=max_removed,
        tol=tol,
        max_iter=max_iter,
        chunk_size=chunk_size or default_chunk_size(n_samples),
        rng=_generator(random_state),
        out_dtype=_numpy_float_dtype(out_dtype),
    )
    location = result.pop("location")
    if numpy_in and is_torch(location):
        location = location.cpu().numpy()
    if tensor_out and not is_torch(location):
        import torch

        location = torch.from_numpy(np.ascontiguousarray(location))
    if is_torch(location):
        location = location.to(out_dtype)
    else:
        location = location.astype(out_dtype, copy=False)
    if return_details:
        return location, result
    return location


class RandEigenMean(BaseRobustMean):
    """Robust mean by randomised spectral filtering (RandEigen).

    The strong robust mean of "A Practical and Secure Byzantine Robust Aggregator" for many
    high-dimensional vectors of which a fraction ``eps`` may be adversarial (poisoned
    gradients). Each round looks at the dominant eigenvector of the survivors' covariance:
    when its eigenvalue stands out of what a clean spectrum reaches, the rows that stand out
    along it (or far from the bulk) leave at random, in proportion to their outlier score,
    until the eigenvalue has converged to the level of the clean rows; a final re-admission
    pass returns the honest rows removed on the way. Quasi-linear in the data size: X is read
    in column chunks, once for the spectrum representation and once for the final mean.

    Parameters
    ----------
    eps : float, default=0.2
        Assumed fraction of adversarial rows, in (0, 0.5). Sets the removal budget
        (``2 eps n``) and the number of directions outliers may hold (``eps n``) in the
        spectral test.
    projection : {"auto", "gram", "jl"}, default="auto"
        How the spectrum of the survivors is obtained.

        * ``"gram"``: exact, from the n x n Gram matrix of the centred rows, computed once in
          column chunks (when d < n, from the centred rows themselves).
        * ``"jl"``: the paper's Johnson-Lindenstrauss sketch ``X R / sqrt(k)`` with Gaussian
          ``R`` generated chunk by chunk from the seed (never a dense d x k matrix).
        * ``"auto"``: ``"gram"`` when n <= k or d <= k (it is then the cheaper), else ``"jl"``.
    n_components : int, default=None
        Sketch width k; None gives the paper's ``min(floor(100 ln d), d)``.
    removal : {"squared", "linear"}, default="squared"
        Removal weight of a row in an overpopulated tail: its squared standardised distance
        (randomised filtering) or the distance itself (a flatter draw).
    max_removed : int, default=None
        Most rows the filter may remove; None gives ``floor(2 eps n)`` minus the rows holding
        NaN or inf (byzantine by construction, they count toward the budget, as toward the
        ``floor(eps n)`` outliers assumed). Whatever the value, at least half of the finite
        rows survive.
    tol : float, default=0.1
        Convergence tolerance of the spectral test, relative: the dominant eigenvalue is clean
        when it is at most ``(1 + tol)`` times the level a clean spectrum reaches (the
        (q+1)-th eigenvalue times the Marchenko-Pastur ratio of the top of a clean spectrum
        to its (q+1)-th eigenvalue, see the Notes). Larger values filter less often.
    max_iter : int, default=None
        Cap on filtering rounds (of each pass); None means ``max_removed + 1`` (every
        filtering round removes at least one row). Reaching a finite cap raises a
        ``ConvergenceWarning``.
    chunk_size : int, default=None
        Columns read at a time; None keeps each float64 block near 16 MiB, so the extra
        memory stays a small fraction of X.
    device : str or torch.device, default=None
        Torch device to compute on (``"cuda"``); None computes with numpy on the CPU.
    random_state : int, RandomState instance or None, default=None
        Seed of the removal draws and of the sketch.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        The robust mean: mean of the surviving rows, accumulated in float64.
    support_ : ndarray of bool, shape (n_samples,)
        Rows kept. Rows with NaN or inf are never kept.
    n_iter_ : int
        Rounds that computed a spectrum (filtering and re-admission passes).
    eigenvalues_ : ndarray of shape (n_iter_,)
        Dominant eigenvalue of the survivors' covariance at each round.
    stop_reason_ : str
        Why the filtering pass stopped: ``"converged"``, ``"flat"``, ``"max_removed"`` or
        ``"max_iter"``.
    projection_ : str
        The projection used (``"gram"`` or ``"jl"``), after resolving ``"auto"``.
    max_removed_ : int
        The removal budget used.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    rand_eigen_mean : The same on numpy arrays or torch tensors, returning the location.
    FilteringMean : Threshold-based filtering with a known variance bound.
    SampleMean : The unsecured plain mean.

    Notes
    -----
    A round on the m survivors, q being the outliers that may remain (at most ``eps n`` and
    the removals still allowed):

    1. *Spectral test.* At most q outliers span at most q directions, so by interlacing the
       (q+1)-th eigenvalue is a level the inliers reach by themselves. The dominant
       eigenvalue is clean when ``lambda_1 <= (1 + tol) r lambda_(q+1)``, ``r`` being the
       ratio of the upper Marchenko-Pastur edge to the law's (q+1)-th largest eigenvalue at
       the survivors' aspect ratio ``min(m - 1, d) / max(m - 1, d)``: a clean isotropic
       spectrum meets the test whatever n and d (the uncalibrated ``lambda_1 <= (1 + tol)
       lambda_(q+1)`` cannot be met by clean data when d < n, and filtered honest rows away).
       It needs ``2 (q + 1) <= min(m - 1, d)`` eigenvalues. **When d is at most about 2q**
       (small layers, biases, d = 1 included) there is no clean bulk to compare with: the
       test is skipped and the tail tests below decide alone, so outliers are still removed
       and an honest spread is not mistaken for one.
    2. *Tail tests.* The survivors' projections on the dominant eigenvector (both sides, when
       the spectrum is not clean) and the cube roots of their median squared distances to the
       other survivors (both tails, only where those distances concentrate: at least 8
       features and cube roots varying by less than 5 %, as for noise in high dimension;
       heavy-tailed rows such as per-sample gradients would otherwise lose their
       informative tail) are standardised by
       their median and MAD. When the spectrum is not clean the projections are also judged
       one tail at a time against a Gaussian fitted to the *other* side (its quantiles at
       -1.5 and -0.5 standard deviations), with a scale no larger than the MAD's and no
       smaller than the spread the clean spectrum allows (the square root of its top-level
       eigenvalue): a group of outliers on one side drags the median and widens the MAD, so
       that a symmetric fit sees it at barely one standard deviation, while the inliers'
       side keeps their centre and spread. This test runs while the dominant eigenvalue is
       within what a group of at most q rows inside three inlier standard deviations can
       add (``1 + 9 f (1 - f)`` times the clean level, ``f = q / m``; a group farther out is
       the symmetric tests' business), and such a group leaves only when it is at most q
       rows and removing it takes away at least half of the dominant eigenvalue's excess
       over the clean level: inliers skewed along an anisotropic direction (model updates)
       look one-sided too, but their tail does not carry the excess, and they are kept.
       A tail is *overpopulated* when it holds more rows than Gaussian inliers would (plus
       a slack of 3 Poisson standard deviations); only that excess leaves, drawn at random
       among the tail's rows with weight ``removal``. Extra copies of (near-)duplicate
       rows -- and whole groups of three copies or more -- leave first, alone, before the
       tail is judged again.
    3. *Stop.* ``"converged"`` when the spectrum is clean (or cannot be tested) and no tail
       is overpopulated, ``"flat"`` when the spectrum is not clean but no group of rows
       stands out, ``"max_removed"`` / ``"max_iter"`` on the caps.
    4. *Re-admission.* The filter runs again from every finite row with only the removed rows
       removable: honest rows removed while outliers still distorted the medians and MADs
       come back; the outliers, removable, leave again.

    What the guarantee rests on. The spectral test is the certificate of the paper's analysis
    (a dominant eigenvalue at the inliers' level bounds the bias of the mean of the
    survivors); the tail tests only decide *which* rows to remove, and remove no more than a
    tail's excess over a Gaussian one, so that the expected number of honest rows removed per
    round stays below that of outliers. Compared with removing every survivor with
    probability proportional to its score (measured on n = 100, d = 5000, 20 % byzantine),
    this removes the bias floor of about 0.21 normalised bias on easily separated attacks
    (the honest rows removed with the outliers) and stops the honest far tail opposite an
    attack from being removed instead of it. The one-sided fit removes a cluster of
    honest-like rows along the honest top eigenvector from about 1.5 of the honest standard
    deviations on (measured with n = 100, d = 5000, 20 % byzantine: 6-9 of 20 rows kept at
    1.5, about one at 1.75; before it, all 20 were often kept up to 1.75-2, the filter
    stopping ``"flat"`` on a spectrum it knew was not clean). An attack deeper inside the
    honest spread (a cluster at about one standard deviation, or a shift that does not lift
    the dominant eigenvalue out of the bulk) is kept: its bias is bounded by that spread,
    and removing honest rows in its place would cost more. The benchmark
    ``benchmarks/robust_mean_adaptive.py`` gives the worst normalised bias per adaptive
    attack family.

    Every test is invariant to scaling X by c > 0 and to translating it, so that
    ``fit(c * X + b).location_ == c * fit(X).location_ + b`` for a fixed ``random_state``;
    all arithmetic happens in units of a power of two close to the data's magnitude, so
    values from 1e-300 to 1e300 filter alike. This replaces the reference implementation's
    absolute stop ``|lambda_t - lambda_(t-1)| < 1e-5``, which depends on the scale of the data.

    The sketch of ``"jl"`` spreads the spectrum of the clean rows; its Marchenko-Pastur ratio
    is taken at the sketch width k. ``"auto"`` only uses it when the exact Gram matrix would
    cost more.

    After the Gram matrix (or sketch) is formed, a round costs the eigenvalues of the
    survivors' m x m centred Gram (or of the k x k sketch covariance when k < m), O(m^3) by
    divide and conquer, plus the top eigenvector by Lanczos (a dense solver where Lanczos does
    not reproduce the top eigenvalue); the pairwise distances are computed once for all
    rounds. ``benchmarks/robust_mean_speed.py`` measures the whole fit against one
    ``X @ X.T``.

    References
    ----------
    .. [1] Lee, D. et al., "A Practical and Secure Byzantine Robust Aggregator", ACM CCS 2025.
    .. [2] Diakonikolas, I., Kane, D., "Recent Advances in Algorithmic High-Dimensional Robust
       Statistics", 2019 (randomised filtering).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_robust.estimators import RandEigenMean
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 1000))
    >>> X[80:] = X[:80].mean(axis=0) + 1.0   # 20 byzantine rows shifted together
    >>> est = RandEigenMean(random_state=0).fit(X)
    >>> int(est.support_[80:].sum())          # byzantine rows kept
    0
    >>> est.stop_reason_
    'converged'
    """

    _handles_non_finite_rows = True
    _parameter_constraints = dict(_PARAMETER_CONSTRAINTS)

    def __init__(
        self,
        *,
        eps=0.2,
        projection="auto",
        n_components=None,
        removal="squared",
        max_removed=None,
        tol=0.1,
        max_iter=None,
        chunk_size=None,
        device=None,
        random_state=None,
    ):
        self.eps = eps
        self.projection = projection
        self.n_components = n_components
        self.removal = removal
        self.max_removed = max_removed
        self.tol = tol
        self.max_iter = max_iter
        self.chunk_size = chunk_size
        self.device = device
        self.random_state = random_state

    def _fit(self, X, random_state):
        location, details = rand_eigen_mean(
            X,
            eps=self.eps,
            projection=self.projection,
            n_components=self.n_components,
            removal=self.removal,
            max_removed=self.max_removed,
            tol=self.tol,
            max_iter=self.max_iter,
            chunk_size=self.chunk_size,
            device=self.device,
            random_state=random_state,
            return_details=True,
        )
        if details["stop_reason"] == "max_iter":
            import warnings

            warnings.warn(
                f"RandEigenMean stopped after max_iter={self.max_iter} rounds before its "
                "spectrum converged; raise max_iter (or leave it None).",
                ConvergenceWarning,
                stacklevel=3,
            )
        return {
            "location_": location,
            "support_": details["support"],
            "n_iter_": details["n_iter"],
            "eigenvalues_": details["eigenvalues"],
            "stop_reason_": details["stop_reason"],
            "projection_": details["projection"],
            "max_removed_": details["max_removed"],
        }
