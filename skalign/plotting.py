"""Pictures of alignments, segmentations and embeddings (matplotlib).

Every function draws on a given ``ax`` (or on a new figure when ``ax`` is
None) and returns the Axes; none calls ``plt.show``. matplotlib is imported
only when a function runs, so the rest of skalign works without it.

Colours of classes are a function of the class id alone (``-1`` is grey),
so the same action has the same colour in :func:`plot_segmentation` and
:func:`plot_embeddings`, in every row and every figure.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

__all__ = [
    "plot_alignment",
    "plot_segmentation",
    "plot_timeline",
    "plot_embeddings",
    "class_color",
    "annotate_heatmap",
]

#: Colour of frames labelled -1 (background, ignored, unmatched).
_GREY = (0.8, 0.8, 0.8, 1.0)


def _pyplot() -> Any:
    """``matplotlib.pyplot``, or an ImportError that says what to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "skalign.plotting needs matplotlib: pip install matplotlib "
            '(or pip install "skalign[docs]").'
        ) from err
    return plt


def _numpy(x: Any) -> np.ndarray:
    """An ndarray from numpy input or a torch tensor (on any device)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _axes(ax: Any, figsize: tuple[float, float] | None = None) -> Any:
    if ax is not None:
        return ax
    plt = _pyplot()
    _, ax = plt.subplots(figsize=figsize)
    return ax


def class_color(label: int, cmap: str = "tab20") -> tuple[float, float, float, float]:
    """The RGBA colour skalign's plots give to a class id.

    Class ``c >= 0`` gets colour ``c`` of the qualitative colormap ``cmap``
    (cycling when there are more classes than colours); ``-1`` (background,
    ignored or unmatched frames) is light grey. For a colormap of 20
    colours in dark/light pairs, such as ``"tab20"``, classes 0-9 take the
    ten dark shades and classes 10-19 the light ones, so that the first
    classes are easy to tell apart. A continuous colormap is sampled at 20
    evenly spaced points.

    Parameters
    ----------
    label : int
        Class id, ``>= -1``.
    cmap : str, default="tab20"
        Name of a matplotlib colormap with a discrete list of colours
        (``"tab10"``, ``"tab20"``, ``"Set3"``, ...).

    Returns
    -------
    color : tuple of 4 float
        RGBA in ``[0, 1]``.

    Examples
    --------
    >>> from skalign.plotting import class_color
    >>> class_color(-1)
    (0.8, 0.8, 0.8, 1.0)
    >>> class_color(0, "tab10") == class_color(10, "tab10")
    True
    """
    label = int(label)
    if label < -1:
        raise ValueError(f"label must be >= -1, got {label}.")
    if label == -1:
        return _GREY
    _pyplot()
    import matplotlib

    try:
        colormap = matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(f"cmap {cmap!r} is not a matplotlib colormap.") from None
    colors = getattr(colormap, "colors", None)
    if colors is not None and colormap.N <= 64:  # a qualitative colormap
        index = label % len(colors)
        if len(colors) == 20:  # tab20-like pairs: the 10 dark shades first
            index = 2 * index if index < 10 else 2 * (index - 10) + 1
        rgba = matplotlib.colors.to_rgba(colors[index])
    else:  # a continuous colormap: 20 evenly spaced colours
        rgba = colormap((label % 20) / 19.0)
    return tuple(float(v) for v in rgba)


# --------------------------------------------------------------------------
# plot_alignment
# --------------------------------------------------------------------------


def _check_frames(frames: Any, n: int, name: str) -> np.ndarray | None:
    if frames is None:
        return None
    arr = _numpy(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(
            f"{name} must be uint8 RGB frames of shape (n_frames, height, width, 3), "
            f"got shape {arr.shape}."
        )
    if arr.dtype != np.uint8:
        raise ValueError(f"{name} must have dtype uint8, got {arr.dtype}.")
    if arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0]} frames; the plan has {n} (real) frames on that side."
        )
    return arr


def _check_plan(plan: Any) -> np.ndarray:
    arr = _numpy(plan)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"the plan must be a numeric array, got dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(
            f"the plan must be one 2-D array (N, M) or (N + 1, M + 1), got shape {arr.shape}; "
            "plot one problem of a batch at a time."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"the plan has an empty dimension: shape {arr.shape}.")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("the plan contains NaN or inf.")
    return arr


def _resolve_virtual(virtual: Any, plan: np.ndarray, matches: np.ndarray | None) -> bool:
    if virtual is not None:
        if not isinstance(virtual, (bool, np.bool_)):
            raise ValueError(f"virtual must be True, False or None, got {virtual!r}.")
        virtual = bool(virtual)
        if virtual and min(plan.shape) < 2:
            raise ValueError(
                f"virtual=True needs a plan of shape (N + 1, M + 1) with N, M >= 1, "
                f"got {plan.shape}."
            )
        return virtual
    if matches is None:
        raise ValueError(
            "cannot tell whether the plan's last row and column are the virtual frame: "
            "pass virtual=True (a plan of vaot with a virtual frame, shape (N + 1, M + 1)) "
            "or virtual=False (an (N, M) plan), or pass matches."
        )
    if matches.shape[0] == plan.shape[0] - 1:
        return True
    if matches.shape[0] == plan.shape[0]:
        return False
    raise ValueError(
        f"matches has {matches.shape[0]} entries; a plan of shape {plan.shape} needs "
        f"{plan.shape[0] - 1} (with a virtual frame) or {plan.shape[0]} (without)."
    )


def _check_matches(matches: Any, n: int, m: int) -> np.ndarray:
    arr = _numpy(matches)
    if arr.ndim != 1:
        raise ValueError(f"matches must be 1-D (one entry per frame), got shape {arr.shape}.")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError("matches must hold integer frame indices (-1 = unmatched).")
    arr = arr.astype(np.int64)
    if arr.shape[0] != n:
        raise ValueError(f"matches has {arr.shape[0]} entries; the plan has {n} frames in video a.")
    if arr.size and (arr.min() < -1 or arr.max() >= m):
        raise ValueError(
            f"matches must hold indices in [-1, {m}) (frames of video b, -1 = unmatched), "
            f"got values in [{int(arr.min())}, {int(arr.max())}]."
        )
    return arr


def _thumbnail_rows(matches: np.ndarray, n_thumbnails: int) -> np.ndarray:
    """Up to ``n_thumbnails`` matched frames of video a, evenly spread."""
    matched = np.flatnonzero(matches >= 0)
    if matched.size == 0 or n_thumbnails == 0:
        return matched[:0]
    if matched.size <= n_thumbnails:
        return matched
    pick = np.linspace(0, matched.size - 1, n_thumbnails).round().astype(int)
    return matched[np.unique(pick)]


#: What an alignment matrix holds: kind -> (colour-bar label, title).
_MATRIX_KINDS: dict[str, tuple[str, str]] = {
    "plan": ("transported mass", "Transport plan"),
    "path": ("on the path (0/1)", "Alignment path"),
    "expected": ("expected alignment", "Expected alignment"),
    "score": ("alignment score", "Alignment scores"),
}

#: Method of :class:`skalign.VideoAligner` -> (kind of its ``align`` plan, title).
_METHOD_KINDS: dict[str, tuple[str, str]] = {
    "vaot": ("plan", "VAOT transport plan"),
    "vava": ("plan", "VAVA transport plan"),
    "gta": ("path", "DTW path (gta)"),
    "sdtw": ("path", "DTW path (sdtw)"),
    "dtw": ("path", "DTW path"),
    "lac": ("expected", "Smith-Waterman expected alignment (lac)"),
}


def _infer_kind(plan: np.ndarray) -> str:
    """What a matrix most likely holds, from its values alone.

    A 0/1 matrix (up to 1e-6) is a hard path (DTW); a non-negative matrix
    of total mass 1, or of total mass at most 2 with entries below 1/2 (the
    threshold rule of VAOT adds the mass of the frames it leaves out to the
    virtual row and column, up to 2 in all), is a transport plan (VAOT,
    VAVA); other non-negative matrices with values in [0, 1] are expected
    alignments (soft or local paths, LAC: a pair on the path has about 1);
    anything else is a score.
    """
    if np.all(np.isclose(plan, 0.0, atol=1e-6) | np.isclose(plan, 1.0, atol=1e-6)):
        return "path"
    if plan.min() < 0.0:
        return "score"
    total = plan.sum()
    if abs(total - 1.0) <= 1e-3 or (total <= 2.0 + 1e-6 and plan.max() < 0.5):
        return "plan"
    if plan.max() <= 1.0 + 1e-6:
        return "expected"
    return "score"


def _resolve_kind(kind: Any, method: Any, plan: np.ndarray) -> tuple[str, str | None]:
    """The kind of matrix drawn and, when a method is known, its title."""
    if kind is None and isinstance(method, str) and method.lower() in _METHOD_KINDS:
        kind = method
    if kind is None:
        return _infer_kind(plan), None
    if not isinstance(kind, str):
        raise ValueError(f"kind must be a string or None, got {kind!r}.")
    key = kind.lower()
    if key in _METHOD_KINDS:
        return _METHOD_KINDS[key]
    if key in _MATRIX_KINDS:
        return key, None
    options = sorted(_MATRIX_KINDS) + sorted(_METHOD_KINDS)
    raise ValueError(f"kind must be one of {options} or None, got {kind!r}.")


def plot_alignment(
    alignment_or_plan: Any,
    *,
    matches: Any = None,
    virtual: bool | None = None,
    frames_a: Any = None,
    frames_b: Any = None,
    n_thumbnails: int = 5,
    thumbnail_size: float = 0.5,
    ax: Any = None,
    cmap: str = "Blues",
    match_color: str = "tab:orange",
    unmatched_color: str = "tab:red",
    colorbar: bool = True,
    names: tuple[str, str] = ("video a", "video b"),
    kind: str | None = None,
    value_label: str | None = None,
    title: str | None = None,
    legend: bool = True,
) -> Any:
    """Draw an alignment matrix as a heat map with the decoded matches on top.

    Rows are the frames of video ``a``, columns those of video ``b``; entry
    ``(i, j)`` is the matrix's value: the mass ``T[i, j]`` of a transport
    plan (VAOT, VAVA), 1 on a DTW path and 0 off it (GTA, soft-DTW), or the
    expected alignment of a soft or local path (LAC). Each matched frame
    ``i`` is drawn as a dot at ``(matches[i], i)``; unmatched frames
    (``matches[i] == -1``) are drawn as crosses in the virtual column (or,
    without a virtual frame, in a strip left of the first column, ticked
    "\u2205"). A virtual frame, the last row and column of a plan of shape
    ``(N + 1, M + 1)``, is set apart by lines and labelled "virtual". The
    axes get a title naming what is drawn and a legend of the markers.

    Parameters
    ----------
    alignment_or_plan : array-like, torch.Tensor or alignment result
        A plan of shape ``(N + 1, M + 1)`` with the virtual frame last (as
        :func:`skalign.ot.vaot` returns) or ``(N, M)``; or any object with
        ``plan`` and ``matches`` attributes (the result of an aligner's
        ``align``), whose matches are used unless ``matches`` is given.
    matches : array-like of int of shape (N,), default=None
        For each frame of ``a``, its frame in ``b`` or -1. None decodes the
        plan with :func:`skalign.ot.decode_matches`.
    virtual : bool or None, default=None
        Whether the plan's last row and column are the virtual frame. None
        infers it from the number of matches (``N`` for an ``(N + 1, M + 1)``
        plan) and needs matches (given, or from the alignment object).
    frames_a, frames_b : ndarray of uint8 of shape (n_frames, height, width, 3), default=None
        The videos' frames. When given, thumbnails of up to
        ``n_thumbnails`` matched frames of ``a`` (evenly spread) are drawn
        left of their rows, and of their matched frames of ``b`` above their
        columns.
    n_thumbnails : int, default=5
        Number of matched pairs shown as thumbnails.
    thumbnail_size : float, default=0.5
        Height and width of a thumbnail's longer side, in inches.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    cmap : str, default="Blues"
        Colormap of the heat map.
    match_color, unmatched_color : str, default="tab:orange", "tab:red"
        Colours of the match dots and of the unmatched crosses.
    colorbar : bool, default=True
        Add a colour bar of the matrix's values, labelled by ``value_label``.
    names : (str, str), default=("video a", "video b")
        Names of the two videos in the axis labels and the default title.
    kind : str or None, default=None
        What the matrix holds, which sets the colour bar's label and the
        default title: ``"plan"`` ("transported mass"), ``"path"`` ("on the
        path (0/1)"), ``"expected"`` ("expected alignment") or ``"score"``
        ("alignment score"); or the name of the
        :class:`skalign.VideoAligner` method that produced it: ``"vaot"``
        and ``"vava"`` (plans), ``"gta"``, ``"sdtw"`` and ``"dtw"`` (DTW
        paths), ``"lac"`` (expected Smith-Waterman alignment). None takes
        the ``method`` attribute of an alignment object when it has one,
        else infers the kind from the values: a 0/1 matrix is a path, a
        non-negative matrix of total mass 1 (or at most 2, with entries
        below 1/2, as with VAOT's threshold rule) a plan, other matrices
        with values in [0, 1] expected alignments, the rest scores.
    value_label : str or None, default=None
        Label of the colour bar; None takes the one of ``kind``.
    title : str or None, default=None
        Title of the axes; None names what is drawn and the two videos
        (e.g. "Transport plan: video a vs video b"); ``""`` sets no title.
    legend : bool, default=True
        Add a legend of the markers: the decoded matches, and the frames
        left unmatched (matched to the virtual frame, with one), with their
        counts.

    Returns
    -------
    ax : matplotlib Axes
        The heat map is ``ax.images[0]`` (its colour bar
        ``ax.images[0].colorbar``); the dots and crosses are the lines
        labelled ``"matches"`` and ``"unmatched"``.

    Raises
    ------
    ValueError
        If the plan is not a finite 2-D array, ``virtual`` cannot be
        inferred, ``kind`` is unknown, the matches do not fit the plan, or the frames are not
        uint8 RGB arrays with one frame per row or column.

    See Also
    --------
    skalign.ot.vaot : Plans with a virtual frame.
    skalign.ot.decode_matches : Matches from a plan.

    References
    ----------
    .. [1] Ali et al., "Joint Self-Supervised Video Alignment and Action
       Segmentation", ICCV 2025, Sec. 3.1.2 (virtual frame, decoding
       ``argmax_j T[i, j]``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skalign.ot import vaot
    >>> from skalign.plotting import plot_alignment
    >>> t = np.linspace(0, 1, 20)
    >>> plan = vaot(np.abs(t[:, None] - t[None, :]), epsilon=0.01).plan
    >>> ax = plot_alignment(plan, virtual=True)
    >>> ax.images[0].get_array().shape
    (21, 21)
    >>> [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]
    ['matches', 'unmatched']
    >>> ax.get_title()
    'Transport plan: video a vs video b'
    >>> ax.images[0].colorbar.ax.get_ylabel()
    'transported mass'
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['decoded matches (20)', 'matched to the virtual frame (0)']
    """
    obj_matches = None
    method = None
    if hasattr(alignment_or_plan, "plan") and not hasattr(alignment_or_plan, "shape"):
        obj_matches = getattr(alignment_or_plan, "matches", None)
        method = getattr(alignment_or_plan, "method", None)
        plan = _check_plan(alignment_or_plan.plan)
    else:
        plan = _check_plan(alignment_or_plan)
    if matches is None:
        matches = obj_matches
    raw_matches = None if matches is None else _numpy(matches)
    virtual = _resolve_virtual(virtual, plan, raw_matches)
    n = plan.shape[0] - 1 if virtual else plan.shape[0]
    m = plan.shape[1] - 1 if virtual else plan.shape[1]
    if raw_matches is None:
        from .ot import decode_matches

        match_arr = decode_matches(plan, virtual=virtual)
    else:
        match_arr = _check_matches(raw_matches, n, m)
    frames_a = _check_frames(frames_a, n, "frames_a")
    frames_b = _check_frames(frames_b, m, "frames_b")
    if isinstance(n_thumbnails, bool) or not isinstance(n_thumbnails, (int, np.integer)) or n_thumbnails < 0:
        raise ValueError(f"n_thumbnails must be an int >= 0, got {n_thumbnails!r}.")
    if not (isinstance(thumbnail_size, (int, float, np.number)) and thumbnail_size > 0):
        raise ValueError(f"thumbnail_size must be a number > 0, got {thumbnail_size!r}.")
    if not (isinstance(names, (tuple, list)) and len(names) == 2):
        raise ValueError(f"names must be two strings (video a, video b), got {names!r}.")
    kind, method_title = _resolve_kind(kind, method, plan)
    if value_label is None:
        value_label = _MATRIX_KINDS[kind][0]
    if title is None:
        title = f"{method_title or _MATRIX_KINDS[kind][1]}: {names[0]} vs {names[1]}"

    ax = _axes(ax)
    im = ax.imshow(plan, cmap=cmap, aspect="auto", interpolation="nearest", origin="upper")
    thumbnails = frames_a is not None or frames_b is not None
    if colorbar:
        # Thumbnails of video a sit right of the axes: the bar goes below.
        location = "bottom" if frames_a is not None else "right"
        bar = ax.figure.colorbar(im, ax=ax, label=value_label, location=location, shrink=0.8)
        if kind == "path":
            bar.set_ticks([0.0, 1.0])
    rows = np.arange(n)
    ok = match_arr >= 0
    n_unmatched = int((~ok).sum())
    # Markers are not clipped, so that those on the first or last row or
    # column (or in a narrow virtual column) are drawn whole; all of them
    # lie inside the axes limits set below.
    dots = ax.plot(
        match_arr[ok], rows[ok], linestyle="none", marker="o", markersize=3,
        color=match_color, label="matches", clip_on=False,
    )[0]
    left = -0.5
    if virtual:
        x_unmatched = float(m)
    else:
        # A strip left of the first column, wide enough for the crosses
        # whatever the number of columns, when some frame is unmatched.
        strip = max(1.0, 0.04 * m) if n_unmatched else 0.0
        left = -0.5 - strip
        x_unmatched = -0.5 - strip / 2
    crosses = ax.plot(
        np.full(n_unmatched, x_unmatched), rows[~ok], linestyle="none",
        marker="x", markersize=4, color=unmatched_color, label="unmatched", clip_on=False,
    )[0]
    for line in (dots, crosses):
        # Their centres lie inside the axes: they take no room of the layout
        # (an empty unclipped line would otherwise upset constrained layout).
        line.set_in_layout(False)
    ax.set_xlim(left, plan.shape[1] - 0.5)
    ax.set_ylim(plan.shape[0] - 0.5, -0.5)
    ax.set_xlabel(f"frame of {names[1]}")
    ax.set_ylabel(f"frame of {names[0]}")
    if virtual:
        ax.axhline(n - 0.5, color="0.3", linewidth=1.0, linestyle="--")
        ax.axvline(m - 0.5, color="0.3", linewidth=1.0, linestyle="--")
        _virtual_ticks(ax.xaxis, m, "\u2205")
        _virtual_ticks(ax.yaxis, n, "virtual")
    elif n_unmatched:
        ax.axvline(-0.5, color="0.3", linewidth=1.0, linestyle="--")
        _strip_ticks(ax.xaxis, m, x_unmatched, "\u2205")
    if title:
        # Thumbnails of video b sit above the axes: the title goes above them.
        above = frames_b is not None and len(_thumbnail_rows(match_arr, int(n_thumbnails))) > 0
        ax.set_title(title, pad=72.0 * (float(thumbnail_size) + 0.2) if above else 6.0)
    if legend:
        handles = [dots]
        texts = [f"decoded matches ({int(ok.sum())})"]
        if virtual or n_unmatched:
            handles.append(crosses)
            texts.append(
                f"matched to the virtual frame ({n_unmatched})" if virtual
                else f"unmatched frames ({n_unmatched})"
            )
        ax.legend(handles, texts, loc="best", fontsize="small", framealpha=0.9)
    if thumbnails:
        _draw_thumbnails(ax, match_arr, frames_a, frames_b, int(n_thumbnails), float(thumbnail_size))
    return ax


def _virtual_ticks(axis: Any, n: int, text: str) -> None:
    """Integer ticks on the real frames, plus one labelled ``text`` at the
    virtual frame ``n`` (real ticks too close to it are dropped)."""
    from matplotlib.ticker import MaxNLocator

    real = [int(t) for t in MaxNLocator(nbins=6, integer=True).tick_values(0, max(n - 1, 0))]
    gap = max(1.0, 0.12 * n)
    real = [t for t in real if 0 <= t <= n - 1 and n - t >= gap]
    axis.set_ticks(real + [n], [str(t) for t in real] + [text])


def _strip_ticks(axis: Any, m: int, x: float, text: str) -> None:
    """Integer ticks on the real frames ``0 .. m - 1``, plus one labelled
    ``text`` at ``x``, the unmatched strip left of them (real ticks too
    close to it are dropped)."""
    from matplotlib.ticker import MaxNLocator

    real = [int(t) for t in MaxNLocator(nbins=6, integer=True).tick_values(0, max(m - 1, 0))]
    gap = max(1.0, 0.1 * m)
    real = [t for t in real if 0 <= t <= m - 1 and t - x >= gap]
    axis.set_ticks([x] + real, [text] + [str(t) for t in real])


def _draw_thumbnails(ax, matches, frames_a, frames_b, n_thumbnails, size) -> None:
    """Thumbnails of matched pairs: frames of a right of the axes, evenly
    spaced top to bottom, frames of b above, evenly spaced left to right,
    each joined by a thin line to its row or column."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage
    from matplotlib.transforms import ScaledTranslation

    chosen = _thumbnail_rows(matches, n_thumbnails)
    k = max(len(chosen), 1)
    gap = size / 2 + 0.08  # inches between the axes and a thumbnail's centre
    dpi_scale = ax.figure.dpi_scale_trans
    right = ax.transAxes + ScaledTranslation(gap, 0.0, dpi_scale)
    above = ax.transAxes + ScaledTranslation(0.0, gap, dpi_scale)
    for pos, i in enumerate(chosen):
        frac = (pos + 0.5) / k
        items = []
        if frames_a is not None:
            items.append((
                "a", int(i), frames_a[i], (1.0, float(i)), ("axes fraction", "data"),
                (1.0, 1.0 - frac), right,
            ))
        if frames_b is not None:
            j = int(matches[i])
            items.append((
                "b", j, frames_b[j], (float(j), 1.0), ("data", "axes fraction"),
                (frac, 1.0), above,
            ))
        for side, index, img, xy, coords, xybox, boxcoords in items:
            zoom = size * 72.0 / max(img.shape[0], img.shape[1])
            box = AnnotationBbox(
                OffsetImage(img, zoom=zoom), xy, xycoords=coords, xybox=xybox,
                boxcoords=boxcoords, frameon=True, pad=0.1, annotation_clip=False,
                arrowprops=dict(arrowstyle="-", color="0.4", linewidth=0.6),
            )
            box.set_gid(f"thumbnail_{side}_{index}")
            ax.add_artist(box)


# --------------------------------------------------------------------------
# plot_segmentation
# --------------------------------------------------------------------------


def _check_labels(labels: Any, name: str) -> np.ndarray:
    arr = _numpy(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per frame), got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} has no frame.")
    if not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.number) and np.all(np.equal(np.mod(arr, 1), 0))):
            raise ValueError(f"{name} must hold integer labels, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    if arr.min() < -1:
        raise ValueError(f"{name} must hold labels >= -1 (-1 = background), got {int(arr.min())}.")
    return arr


def _runs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, length and label of every maximal run of one label."""
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [labels.shape[0]]])
    return starts, stops - starts, labels[starts]


def _class_name(c: int, class_names: Sequence[str] | Mapping[int, str] | None) -> str:
    """The legend entry of class ``c``."""
    if c == -1:
        return "background"
    if class_names is not None:
        try:
            return str(class_names[c])
        except (IndexError, KeyError):
            pass
    return str(c)


def _matched_prediction(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Clusters renamed to their Hungarian-matched classes; the others get
    fresh ids above every class, so they keep colours of their own."""
    from .metrics import hungarian_match

    mapping = hungarian_match([pred], [gt])[0]
    out = np.full_like(pred, -1)
    fresh = max(int(gt.max()), int(max(mapping.values(), default=-1))) + 1
    for cluster in np.unique(pred[pred >= 0]):
        cluster = int(cluster)
        if cluster in mapping:
            out[pred == cluster] = mapping[cluster]
        else:
            out[pred == cluster] = fresh
            fresh += 1
    return out


def plot_segmentation(
    pred: Any,
    gt: Any = None,
    *,
    ax: Any = None,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    match: bool = False,
    cmap: str = "tab20",
    legend: bool = True,
) -> Any:
    """Draw per-frame segmentations as rows of coloured bars.

    Each row is one labelling of the same video: every maximal run of one
    label is a bar whose colour is the label's (:func:`class_color`), so a
    class has the same colour in every row. Frames labelled -1 are grey.

    Parameters
    ----------
    pred : array-like of int of shape (n_frames,) or dict of str to array-like
        Predicted label of each frame; a dict gives several named rows
        (e.g. ``{"ASOT": a, "argmax": b}``), drawn top to bottom.
    gt : array-like of int of shape (n_frames,), default=None
        Ground-truth class of each frame (-1: background), drawn as the
        bottom row "ground truth".
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    class_names : sequence of str or dict of int to str, default=None
        Names shown in the legend, ``class_names[c]`` for class ``c``.
    match : bool, default=False
        Rename predicted clusters to the ground-truth classes they are
        paired with by :func:`skalign.metrics.hungarian_match` (needs
        ``gt``), so that a cluster is drawn in its class's colour; clusters
        paired with no class get colours of their own. Use it for
        unsupervised predictions, whose cluster ids are arbitrary.
    cmap : str, default="tab20"
        Qualitative colormap of the classes (see :func:`class_color`).
    legend : bool, default=True
        Add a legend of the classes present.

    Returns
    -------
    ax : matplotlib Axes
        Row ``r`` is the bar container ``ax.containers[r]`` (top row first),
        one rectangle per run.

    Raises
    ------
    ValueError
        If a labelling is not 1-D integer with labels >= -1, rows differ in
        length, or ``match=True`` without ``gt``.

    See Also
    --------
    skalign.metrics.segmentation_report : Scores of a segmentation.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skalign.plotting import plot_segmentation
    >>> ax = plot_segmentation([0, 0, 1, 1, 1], [0, 0, 0, 1, 1])
    >>> [len(c.patches) for c in ax.containers]  # runs per row
    [2, 2]
    """
    if isinstance(pred, Mapping):
        if not pred:
            raise ValueError("pred is an empty dict; give at least one labelling.")
        rows = [(str(k), _check_labels(v, f"pred[{k!r}]")) for k, v in pred.items()]
    else:
        rows = [("prediction", _check_labels(pred, "pred"))]
    gt_arr = None if gt is None else _check_labels(gt, "gt")
    n_frames = rows[0][1].shape[0]
    for name, labels in rows:
        if labels.shape[0] != n_frames:
            raise ValueError(f"pred {name!r} has {labels.shape[0]} frames; the first row has {n_frames}.")
    if gt_arr is not None and gt_arr.shape[0] != n_frames:
        raise ValueError(f"gt has {gt_arr.shape[0]} frames; pred has {n_frames}.")
    if match:
        if gt_arr is None:
            raise ValueError("match=True needs gt (the classes to match clusters to).")
        rows = [(name, _matched_prediction(labels, gt_arr)) for name, labels in rows]
    if gt_arr is not None:
        rows.append(("ground truth", gt_arr))

    ax = _axes(ax, figsize=(8.0, 0.6 * len(rows) + 1.2))
    present: set[int] = set()
    for r, (_, labels) in enumerate(rows):
        starts, lengths, values = _runs(labels)
        colors = [class_color(v, cmap) for v in values]
        ax.barh(
            r, lengths, left=starts, height=0.8, color=colors, edgecolor="none",
            align="center", label="_nolegend_",
        )
        present.update(int(v) for v in values)
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, n_frames)
    ax.set_xlabel("frame")
    if legend and present:
        from matplotlib.patches import Patch

        handles = [Patch(color=class_color(c, cmap), label=_class_name(c, class_names)) for c in sorted(present)]
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small",
            frameon=False,
        )
    return ax


# --------------------------------------------------------------------------
# plot_timeline
# --------------------------------------------------------------------------


def plot_timeline(
    timeline: Any,
    labels: Sequence[Any],
    *,
    ax: Any = None,
    names: Sequence[str] | None = None,
    class_names: Sequence[str] | Mapping[int, str] | None = None,
    cmap: str = "tab20",
    legend: bool = True,
) -> Any:
    """Draw every video's phases on the common timeline of ``align_many``.

    Row ``i`` is video ``i``: at step ``t`` it has the colour of the label
    of the frame it shows there (``timeline.frames[i][t]``), so the rows of
    well-aligned videos change colour at the same steps. Steps where a
    video has no counterpart are white and hatched; the reference video is
    marked "(reference)".

    Parameters
    ----------
    timeline : skalign.Timeline
        The result of ``align_many``.
    labels : list of array-like of int
        One label per frame of every video: ground truth, or the
        ``predict`` of a segmenter (-1: background, grey).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    names : sequence of str, default=None
        Row names; ``video 0, video 1, ...`` when None.
    class_names : sequence of str or dict of int to str, default=None
        Names shown in the legend, ``class_names[c]`` for class ``c``.
    cmap : str, default="tab20"
        Qualitative colormap of the classes (see :func:`class_color`).
    legend : bool, default=True
        Add a legend of the classes present.

    Returns
    -------
    ax : matplotlib Axes
        One bar container per row and kind of run (phases, then the runs
        without counterpart when there are some).

    Raises
    ------
    ValueError
        If ``labels`` or ``names`` do not hold one entry per video, or a
        labelling does not have one int per frame.

    See Also
    --------
    plot_segmentation : One video's labellings, frame by frame.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skalign import Timeline
    >>> from skalign.plotting import plot_timeline
    >>> tl = Timeline(reference=0, frames=[np.arange(4), np.array([0, 0, -1, 2])],
    ...               steps=[np.arange(4), np.array([0, 3, -1])])
    >>> ax = plot_timeline(tl, [np.array([0, 0, 1, 1]), np.array([0, 1, 1])])
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['video 0 (reference)', 'video 1']
    """
    phases = timeline.phases(labels)
    n_videos, n_steps = phases.shape
    if names is None:
        names = [f"video {i}" for i in range(n_videos)]
    if len(names) != n_videos:
        raise ValueError(f"names holds {len(names)} names but the timeline {n_videos} videos.")
    rows = [f"{n} (reference)" if i == timeline.reference else str(n) for i, n in enumerate(names)]
    ax = _axes(ax, figsize=(8.0, 0.45 * n_videos + 1.2))
    present: set[int] = set()
    missing: tuple[list[int], list[int], list[int]] = ([], [], [])
    for r in range(n_videos):
        starts, lengths, values = _runs(phases[r])
        keep = values >= -1
        ax.barh(r, lengths[keep], left=starts[keep], height=0.8, edgecolor="none",
                color=[class_color(int(v), cmap) for v in values[keep]], label="_nolegend_")
        present.update(int(v) for v in values[keep])
        for s, n in zip(starts[~keep], lengths[~keep]):
            missing[0].append(r)
            missing[1].append(int(s))
            missing[2].append(int(n))
    if missing[0]:
        ax.barh(missing[0], missing[2], left=missing[1], height=0.8, color="white",
                edgecolor=_GREY, hatch="///", label="no counterpart")
    ax.set_yticks(range(n_videos), rows)
    ax.set_ylim(n_videos - 0.5, -0.5)
    ax.set_xlim(0, n_steps)
    ax.set_xlabel("timeline step (frame of the reference video)")
    if legend and present:
        from matplotlib.patches import Patch

        handles = [Patch(color=class_color(c, cmap), label=_class_name(c, class_names)) for c in sorted(present)]
        if missing[0]:
            handles.append(Patch(facecolor="white", edgecolor=_GREY, hatch="///", label="no counterpart"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small",
                  frameon=False)
    return ax


# --------------------------------------------------------------------------
# plot_embeddings
# --------------------------------------------------------------------------


def _check_embedding_list(embeddings: Any) -> list[np.ndarray]:
    single = not isinstance(embeddings, (list, tuple))
    items = [embeddings] if single else list(embeddings)
    if not items:
        raise ValueError("embeddings is an empty list.")
    out = []
    for i, e in enumerate(items):
        name = "embeddings" if single else f"embeddings[{i}]"
        arr = _numpy(e)
        if arr.ndim != 2:
            raise ValueError(f"{name} must have shape (n_frames, n_dims), got {arr.shape}.")
        if arr.shape[0] == 0:
            raise ValueError(f"{name} has no frame.")
        if not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}.")
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or inf.")
        if out and arr.shape[1] != out[0].shape[1]:
            raise ValueError(f"{name} has {arr.shape[1]} dimensions; embeddings[0] has {out[0].shape[1]}.")
        out.append(arr)
    if out[0].shape[1] < 2:
        raise ValueError(
            f"embeddings have {out[0].shape[1]} dimension; a 2-D projection needs at least 2."
        )
    if sum(e.shape[0] for e in out) < 2:
        raise ValueError("embeddings hold a single frame; a projection needs at least 2.")
    return out


def _projector(method: Any, random_state: Any, n_samples: int) -> Any:
    if isinstance(method, str):
        if method == "pca":
            from sklearn.decomposition import PCA

            return PCA(n_components=2, svd_solver="full")
        if method == "tsne":
            from sklearn.manifold import TSNE

            perplexity = min(30.0, (n_samples - 1) / 3.0)
            return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=random_state)
        raise ValueError(f"method must be 'pca', 'tsne' or a transformer, got {method!r}.")
    if hasattr(method, "fit_transform"):
        from sklearn.base import clone

        return clone(method)
    raise ValueError(
        f"method must be 'pca', 'tsne' or an unfitted transformer with fit_transform, got {method!r}."
    )


def plot_embeddings(
    embeddings: Any,
    labels: Any = None,
    *,
    method: Any = "pca",
    ax: Any = None,
    cmap: str | None = None,
    trajectory: bool = True,
    marker_size: float = 12.0,
    random_state: int | None = 0,
) -> Any:
    """Project per-frame embeddings to 2-D and draw one trajectory per video.

    All frames of all videos are projected together (PCA by default), so
    videos share one plane. Frames are coloured by their progress through
    their video (``t / (n_frames - 1)``, from 0 to 1) or, when ``labels``
    are given, by phase (:func:`class_color`, -1 grey). A good embedding
    of videos of one process puts the same moment of different videos in
    the same place.

    Parameters
    ----------
    embeddings : array-like of shape (n_frames, n_dims) or list of them
        Per-frame embeddings of one video or of several (same ``n_dims``).
    labels : array-like of int or list of them, default=None
        Per-frame phase labels (-1 = background), one array per video.
        None colours by progress.
    method : {"pca", "tsne"} or transformer, default="pca"
        ``"pca"``: ``sklearn.decomposition.PCA(n_components=2,
        svd_solver="full")``; ``"tsne"``: ``sklearn.manifold.TSNE`` with
        ``init="pca"``; or any unfitted transformer with ``fit_transform``
        giving 2 columns (cloned before use).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    cmap : str, default=None
        Colormap: ``"viridis"`` for progress, ``"tab20"`` for phases.
    trajectory : bool, default=True
        Join consecutive frames of each video with a thin line.
    marker_size : float, default=12.0
        Area of a frame's dot, in points squared.
    random_state : int or None, default=0
        Seed of ``"tsne"``.

    Returns
    -------
    ax : matplotlib Axes
        Video ``v`` is the scatter ``ax.collections[v]``, whose offsets are
        its projected frames.

    Raises
    ------
    ValueError
        If an embedding is not a finite 2-D array, sizes differ, there are
        fewer than 2 dimensions, the labels do not fit, or ``method`` is
        unknown.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skalign.plotting import plot_embeddings
    >>> rng = np.random.default_rng(0)
    >>> videos = [rng.normal(size=(30, 8)), rng.normal(size=(40, 8))]
    >>> ax = plot_embeddings(videos)
    >>> [c.get_offsets().shape for c in ax.collections]
    [(30, 2), (40, 2)]
    """
    videos = _check_embedding_list(embeddings)
    label_list = None
    if labels is not None:
        single = not isinstance(labels, (list, tuple)) or (
            len(videos) == 1 and len(labels) > 0 and np.ndim(labels[0]) == 0
        )
        raw = [labels] if single else list(labels)
        if len(raw) != len(videos):
            raise ValueError(f"labels has {len(raw)} arrays; embeddings has {len(videos)} videos.")
        label_list = []
        for i, (lab, vid) in enumerate(zip(raw, videos)):
            arr = _check_labels(lab, f"labels[{i}]")
            if arr.shape[0] != vid.shape[0]:
                raise ValueError(
                    f"labels[{i}] has {arr.shape[0]} entries; embeddings[{i}] has "
                    f"{vid.shape[0]} frames."
                )
            label_list.append(arr)
    stacked = np.concatenate(videos, axis=0)
    projector = _projector(method, random_state, stacked.shape[0])
    projected = np.asarray(projector.fit_transform(stacked))
    if projected.ndim != 2 or projected.shape != (stacked.shape[0], 2):
        raise ValueError(
            f"method gave an output of shape {projected.shape}; expected ({stacked.shape[0]}, 2)."
        )
    splits = np.cumsum([v.shape[0] for v in videos])[:-1]
    parts = np.split(projected, splits)

    ax = _axes(ax)
    mappable = None
    present: set[int] = set()
    for v, xy in enumerate(parts):
        if trajectory and xy.shape[0] > 1:
            ax.plot(xy[:, 0], xy[:, 1], color="0.6", linewidth=0.6, zorder=1, label="_nolegend_")
        if label_list is None:
            progress = np.arange(xy.shape[0]) / max(xy.shape[0] - 1, 1)
            mappable = ax.scatter(
                xy[:, 0], xy[:, 1], c=progress, cmap=cmap or "viridis", vmin=0.0, vmax=1.0,
                s=marker_size, zorder=2,
            )
        else:
            colors = [class_color(c, cmap or "tab20") for c in label_list[v]]
            ax.scatter(xy[:, 0], xy[:, 1], c=colors, s=marker_size, zorder=2)
            present.update(int(c) for c in label_list[v])
    if mappable is not None:
        ax.figure.colorbar(mappable, ax=ax, label="progress through the video")
    if present:
        from matplotlib.patches import Patch

        handles = [
            Patch(color=class_color(c, cmap or "tab20"), label="background" if c == -1 else f"phase {c}")
            for c in sorted(present)
        ]
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small",
            frameon=False,
        )
    name = method.upper() if isinstance(method, str) else type(method).__name__
    ax.set_xlabel(f"{name} 1")
    ax.set_ylabel(f"{name} 2")
    return ax


# --------------------------------------------------------------------------
# annotate_heatmap
# --------------------------------------------------------------------------


def _relative_luminance(rgba: Any) -> float:
    """WCAG relative luminance of an sRGB colour, in [0, 1]."""
    rgb = np.asarray(rgba, dtype=np.float64)[:3]
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def _text_color(background: Any, dark: Any, light: Any) -> Any:
    """``dark`` or ``light``, whichever contrasts more with ``background``
    (WCAG contrast ratio of the two text colours against it)."""
    import matplotlib.colors as mcolors

    bg = _relative_luminance(mcolors.to_rgba(background))
    lum_dark = _relative_luminance(mcolors.to_rgba(dark))
    lum_light = _relative_luminance(mcolors.to_rgba(light))

    def contrast(a: float, b: float) -> float:
        hi, lo = max(a, b), min(a, b)
        return (hi + 0.05) / (lo + 0.05)

    return dark if contrast(bg, lum_dark) >= contrast(bg, lum_light) else light


def annotate_heatmap(
    im: Any,
    data: Any = None,
    *,
    fmt: str = "{:.3f}",
    colors: tuple[Any, Any] = ("black", "white"),
    **text_kw: Any,
) -> list[Any]:
    """Write each cell's value on a heat map, in a colour readable on it.

    The text of a cell is dark on a light cell and light on a dark one: of
    the two ``colors``, the one of higher contrast (WCAG contrast ratio of
    relative luminances) with the cell's colour under the image's colormap
    and normalisation, so numbers stay readable on the bright yellow of
    ``"viridis"`` as on its dark blue.

    Parameters
    ----------
    im : matplotlib AxesImage
        The heat map, as ``ax.imshow`` returns it.
    data : array-like of shape (n_rows, n_cols), default=None
        The values to write; None writes the image's own values. The
        colours always follow the image's values.
    fmt : str, default="{:.3f}"
        Format of a value, for ``str.format``.
    colors : (dark, light), default=("black", "white")
        The two text colours, as matplotlib colours.
    **text_kw
        Other keyword arguments of ``ax.text`` (``fontsize``, ...).

    Returns
    -------
    texts : list of matplotlib Text
        One per cell that is not masked or NaN, row by row.

    Raises
    ------
    ValueError
        If ``data`` does not have the image's shape, or the image is not 2-D.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from skalign.plotting import annotate_heatmap
    >>> fig, ax = plt.subplots()
    >>> im = ax.imshow(np.array([[0.0, 1.0]]), cmap="viridis")
    >>> [(t.get_text(), t.get_color()) for t in annotate_heatmap(im, fmt="{:.1f}")]
    [('0.0', 'white'), ('1.0', 'black')]
    """
    _pyplot()
    values = np.ma.masked_invalid(np.ma.asarray(im.get_array(), dtype=np.float64))
    if values.ndim != 2:
        raise ValueError(f"im must show a 2-D array of values, got shape {values.shape}.")
    if data is None:
        shown = values
    else:
        shown = np.ma.asarray(_numpy(data))
        if np.issubdtype(shown.dtype, np.number):
            shown = np.ma.masked_invalid(shown)
    if shown.shape != values.shape:
        raise ValueError(f"data has shape {shown.shape}; the image has shape {values.shape}.")
    if not (isinstance(colors, (tuple, list)) and len(colors) == 2):
        raise ValueError(f"colors must be two colours (dark, light), got {colors!r}.")
    dark, light = colors
    n_rows, n_cols = values.shape
    left, right, bottom, top = im.get_extent()
    width, height = (right - left) / n_cols, (top - bottom) / n_rows
    cell_colors = im.cmap(im.norm(values))
    kw = dict(ha="center", va="center")
    kw.update(text_kw)
    texts = []
    for i in range(n_rows):
        # Row 0 is at the top with origin="upper", at the bottom with "lower".
        y = top - (i + 0.5) * height if im.origin == "upper" else bottom + (i + 0.5) * height
        for j in range(n_cols):
            if values.mask is not np.ma.nomask and values.mask[i, j]:
                continue
            if shown.mask is not np.ma.nomask and shown.mask[i, j]:
                continue
            color = _text_color(cell_colors[i, j], dark, light)
            x = left + (j + 0.5) * width
            texts.append(im.axes.text(x, y, fmt.format(shown[i, j]), color=color, **kw))
    return texts
