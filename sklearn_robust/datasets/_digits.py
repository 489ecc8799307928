"""The built-in default dataset: scikit-learn's digits, split into image bands or phases."""

import numbers

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from sklearn_robust.datasets._base import _frame_bunch_parts

_IMAGE_SIDE = 8  # digits are 8 x 8 images, flattened row-major into 64 pixels
_VALID_N_AGENTS = {"bands": (1, 2, 4, 8), "polyphase": (1, 4)}

_BANDS_DESCR = """

Split into agents (sklearn_robust)
----------------------------------

Every image is cut into {n_agents} horizontal band(s) of {rows} pixel row(s); agent k sees
image rows {rows}*k to {rows}*k + {last} (all 8 columns), i.e. the {width} consecutive
columns ``{width}*k`` to ``{width}*k + {width_last}`` of ``data``, whose column ``8*r + c``
is the pixel at row r and column c (scikit-learn's row-major flattening). No pixel is seen
by two agents, and together the agents see the whole image.
"""

_POLYPHASE_DESCR = """

Split into agents (sklearn_robust)
----------------------------------

{split_text}

``data`` keeps scikit-learn's row-major column order (column ``8*r + c`` is the pixel at
row r and column c), so an agent's block is a sorted list of column indices. No pixel is
seen by two agents, and together the agents see the whole image.
"""

_POLYPHASE_4_TEXT = """Every image is subsampled in the 4 phases of a 2x2 grid: agent
k = 2*(r % 2) + (c % 2) sees the pixels (r, c) with row offset k // 2 and column offset
k % 2, i.e. the whole digit at half resolution, a 4x4 sub-image sampled at its own offset,
like cameras looking at the same object from slightly different positions. The agents are
therefore redundant: losing one costs little information, unlike a horizontal band, whose
loss removes a part of the digit. The blocks are not runs of consecutive columns."""

_POLYPHASE_1_TEXT = """One agent sees every pixel of the image (the 1x1 polyphase grid, the
same pixels as a single horizontal band)."""


def _agent_name(first_row, last_row):
    return f"row_{first_row}" if first_row == last_row else f"rows_{first_row}-{last_row}"


def _band_agents(n_agents):
    """Blocks (widths), agent names and DESCR text of ``n_agents`` horizontal bands."""
    rows = _IMAGE_SIDE // n_agents
    width = rows * _IMAGE_SIDE
    blocks = [width] * n_agents
    agent_names = [_agent_name(k * rows, (k + 1) * rows - 1) for k in range(n_agents)]
    descr = _BANDS_DESCR.format(
        n_agents=n_agents, rows=rows, last=rows - 1, width=width, width_last=width - 1
    )
    return blocks, agent_names, descr


def _polyphase_agents(n_agents):
    """Blocks (sorted column indices), agent names and DESCR text of ``n_agents`` phases.

    Agent ``k = step * (r % step) + (c % step)`` owns pixel ``(r, c)``, where ``step`` is the
    side of the subsampling grid (``n_agents == step ** 2``).
    """
    step = int(round(n_agents**0.5))
    rows, cols = np.divmod(np.arange(_IMAGE_SIDE * _IMAGE_SIDE), _IMAGE_SIDE)
    owner = step * (rows % step) + cols % step
    blocks = [np.flatnonzero(owner == k).tolist() for k in range(n_agents)]
    agent_names = [f"phase_{k // step}_{k % step}" for k in range(n_agents)]
    split_text = _POLYPHASE_4_TEXT if step == 2 else _POLYPHASE_1_TEXT
    descr = _POLYPHASE_DESCR.format(split_text=split_text)
    return blocks, agent_names, descr


@validate_params(
    {
        "n_agents": [Interval(numbers.Integral, 1, None, closed="left")],
        "split": [StrOptions({"bands", "polyphase"})],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_digits_agents(*, n_agents=4, split="bands", return_X_y=False, as_frame=False):
    """Load scikit-learn's digits split into agents that see image bands or image phases.

    The built-in default dataset of the library: 1797 grey-level 8x8 images of the digits
    0-9 (values 0-16), ships with scikit-learn, so it needs no download.

    With ``split="bands"`` (the default), each agent observes
    one horizontal band of every image: with ``n_agents=4`` (the default), agent 0 sees
    image rows 0-1, agent 1 rows 2-3, agent 2 rows 4-5 and agent 3 rows 6-7, 16 pixels each.
    In general the 8 image rows are cut into ``n_agents`` bands of ``8 // n_agents``
    consecutive rows, so agent ``k`` owns the ``64 // n_agents`` consecutive columns
    ``[k * 64 // n_agents, (k + 1) * 64 // n_agents)`` of ``data`` (pixel ``(r, c)`` is
    column ``8 * r + c``). The bands are disjoint and cover the image. Each band shows
    only part of the digit, so losing an agent loses that part.

    With ``split="polyphase"`` and ``n_agents=4``, agent ``k = 2 * (r % 2) + (c % 2)``
    owns pixel ``(r, c)``: every agent sees the whole digit at half resolution, the 4x4
    sub-image ``images[:, k // 2::2, k % 2::2]`` sampled at its own offset, like cameras
    looking at the same object from slightly different positions (the multi-view setting
    of the CoPur paper's datasets). The agents are redundant: losing one costs little
    information. ``data`` keeps scikit-learn's pixel order, so each block is a sorted list
    of column indices, not a run of consecutive columns. ``n_agents=1`` gives one agent
    with every pixel.

    Parameters
    ----------
    n_agents : int, default=4
        Number of agents. With ``split="bands"``, one of {1, 2, 4, 8} (it must divide the
        8 image rows evenly); with ``split="polyphase"``, one of {1, 4}.
    split : {"bands", "polyphase"}, default="bands"
        How the pixels are shared among the agents: ``"bands"`` gives each agent
        ``8 // n_agents`` consecutive image rows; ``"polyphase"`` gives each agent one
        phase of a 2x2 subsampling of the image (or, with ``n_agents=1``, every pixel).
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
        blocks : list of int or list of list of int
            The agents' blocks; pass it as the ``blocks`` parameter of any block-aware
            object of this library. With ``split="bands"``, the block widths
            ``[64 // n_agents] * n_agents`` (consecutive columns); with
            ``split="polyphase"``, the sorted column indices of each agent's pixels.
        agent_names : list of str
            Name of each agent: its band, e.g. ``"rows_0-1"``, or its phase (row offset,
            column offset), e.g. ``"phase_0_1"``.
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
        If ``n_agents`` is not valid for ``split``: not 1, 2, 4 or 8 with ``"bands"``,
        not 1 or 4 with ``"polyphase"``.

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

    The polyphase split: each agent sees the whole digit at half resolution.

    >>> digits = load_digits_agents(n_agents=4, split="polyphase")
    >>> digits.agent_names
    ['phase_0_0', 'phase_0_1', 'phase_1_0', 'phase_1_1']
    >>> digits.blocks[0]
    [0, 2, 4, 6, 16, 18, 20, 22, 32, 34, 36, 38, 48, 50, 52, 54]
    >>> digits.blocks[3]
    [9, 11, 13, 15, 25, 27, 29, 31, 41, 43, 45, 47, 57, 59, 61, 63]
    >>> check_blocks(digits.blocks, digits.data.shape[1])
    BlockLayout(n_blocks=4, widths=[16, 16, 16, 16])
    """
    valid = _VALID_N_AGENTS[split]
    if n_agents not in valid:
        if split == "bands":
            raise ValueError(
                f"n_agents={n_agents} does not split the 8 image rows of the digits into "
                f"equal horizontal bands; use one of {list(valid)} (bands of 8, 4, 2 or 1 "
                "rows)."
            )
        raise ValueError(
            f"n_agents={n_agents} is not available with split='polyphase'; use one of "
            f"{list(valid)} (one agent with every pixel, or the 4 phases of a 2x2 "
            "subsampling of the image), or split='bands' with n_agents in [1, 2, 4, 8]."
        )
    digits = load_digits()
    data = np.asarray(digits.data, dtype=np.float64)
    target = np.asarray(digits.target)
    make_agents = _band_agents if split == "bands" else _polyphase_agents
    blocks, agent_names, agent_descr = make_agents(n_agents)
    feature_names = [f"pixel_{r}_{c}" for r in range(_IMAGE_SIDE) for c in range(_IMAGE_SIDE)]
    descr = digits.DESCR + agent_descr

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
