"""The built-in default dataset: scikit-learn's digits, split into horizontal image bands."""

import numbers

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params

from sklearn_robust.datasets._base import _frame_bunch_parts

_IMAGE_SIDE = 8  # digits are 8 x 8 images, flattened row-major into 64 pixels
_VALID_N_AGENTS = (1, 2, 4, 8)

_AGENT_DESCR = """

Split into agents (sklearn_robust)
----------------------------------

Every image is cut into {n_agents} horizontal band(s) of {rows} pixel row(s); agent k sees
image rows {rows}*k to {rows}*k + {last} (all 8 columns), i.e. the {width} consecutive
columns ``{width}*k`` to ``{width}*k + {width_last}`` of ``data``, whose column ``8*r + c``
is the pixel at row r and column c (scikit-learn's row-major flattening). No pixel is seen
by two agents, and together the agents see the whole image.
"""


def _agent_name(first_row, last_row):
    return f"row_{first_row}" if first_row == last_row else f"rows_{first_row}-{last_row}"


@validate_params(
    {
        "n_agents": [Interval(numbers.Integral, 1, None, closed="left")],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_digits_agents(*, n_agents=4, return_X_y=False, as_frame=False):
    """Load scikit-learn's digits split into agents that see horizontal image bands.

    The built-in default dataset of the library: 1797 grey-level 8x8 images of the digits
    0-9 (values 0-16), ships with scikit-learn, so it needs no download. Each agent observes
    one horizontal band of every image: with ``n_agents=4`` (the default), agent 0 sees
    image rows 0-1, agent 1 rows 2-3, agent 2 rows 4-5 and agent 3 rows 6-7, 16 pixels each.
    In general the 8 image rows are cut into ``n_agents`` bands of ``8 // n_agents``
    consecutive rows, so agent ``k`` owns the ``64 // n_agents`` consecutive columns
    ``[k * 64 // n_agents, (k + 1) * 64 // n_agents)`` of ``data`` (pixel ``(r, c)`` is
    column ``8 * r + c``). The bands are disjoint and cover the image.

    Parameters
    ----------
    n_agents : {1, 2, 4, 8}, default=4
        Number of agents (horizontal bands). Must divide the 8 image rows evenly.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame (columns named after the pixels), ``target``
        a Series and ``frame`` a DataFrame holding both (scikit-learn's convention).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : {ndarray, DataFrame} of shape (1797, 64)
            Pixel intensities (float64), row-major: column ``8 * r + c`` is pixel ``(r, c)``.
        target : {ndarray, Series} of shape (1797,)
            The digit of each image.
        frame : DataFrame of shape (1797, 65)
            Only when ``as_frame=True``: ``data`` and ``target`` together.
        blocks : list of int
            The agents' block widths, ``[64 // n_agents] * n_agents``; pass it as the
            ``blocks`` parameter of any block-aware object of this library.
        agent_names : list of str
            Name of each agent's band, e.g. ``"rows_0-1"``.
        feature_names : list of str
            ``"pixel_<row>_<col>"`` for each column.
        target_names : ndarray of shape (10,)
            The digits 0-9.
        images : ndarray of shape (1797, 8, 8)
            The images.
        DESCR : str
            Description of the dataset and of the split.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` and ``target`` as described above.

    Raises
    ------
    ValueError
        If ``n_agents`` does not divide the 8 image rows (is not 1, 2, 4 or 8).

    See Also
    --------
    sklearn.datasets.load_digits : The same images, without the agents.
    make_block_manifold : Synthetic multi-agent data with a known low-dimensional structure.

    Examples
    --------
    >>> from sklearn_robust.datasets import load_digits_agents
    >>> from sklearn_robust.base import check_blocks
    >>> digits = load_digits_agents(n_agents=4)
    >>> digits.data.shape, digits.blocks
    ((1797, 64), [16, 16, 16, 16])
    >>> digits.agent_names
    ['rows_0-1', 'rows_2-3', 'rows_4-5', 'rows_6-7']
    >>> check_blocks(digits.blocks, digits.data.shape[1])
    BlockLayout(n_blocks=4, widths=[16, 16, 16, 16])
    >>> X, y = load_digits_agents(n_agents=2, return_X_y=True)
    >>> X.shape, y.shape
    ((1797, 64), (1797,))
    """
    if n_agents not in _VALID_N_AGENTS:
        raise ValueError(
            f"n_agents={n_agents} does not split the 8 image rows of the digits into equal "
            f"horizontal bands; use one of {list(_VALID_N_AGENTS)} (bands of 8, 4, 2 or 1 "
            "rows)."
        )
    digits = load_digits()
    data = np.asarray(digits.data, dtype=np.float64)
    target = np.asarray(digits.target)
    rows = _IMAGE_SIDE // n_agents
    width = rows * _IMAGE_SIDE
    blocks = [width] * n_agents
    agent_names = [_agent_name(k * rows, (k + 1) * rows - 1) for k in range(n_agents)]
    feature_names = [f"pixel_{r}_{c}" for r in range(_IMAGE_SIDE) for c in range(_IMAGE_SIDE)]
    descr = digits.DESCR + _AGENT_DESCR.format(
        n_agents=n_agents, rows=rows, last=rows - 1, width=width, width_last=width - 1
    )

    frame = None
    if as_frame:
        frame, data, target = _frame_bunch_parts(
            "load_digits_agents", data, target, feature_names, "target"
        )
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        blocks=blocks,
        agent_names=agent_names,
        feature_names=feature_names,
        target_names=np.arange(10),
        images=np.asarray(digits.images, dtype=np.float64),
        DESCR=descr,
    )
