"""Tests of skalign.plotting: the artists hold exactly the data drawn."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.offsetbox import AnnotationBbox  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from skalign.ot import vaot  # noqa: E402
from skalign.plotting import (  # noqa: E402
    annotate_heatmap,
    class_color,
    plot_alignment,
    plot_embeddings,
    plot_segmentation,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def no_show(monkeypatch):
    """Fail if anything calls plt.show."""

    def boom(*args, **kwargs):
        raise AssertionError("plt.show was called")

    monkeypatch.setattr(plt, "show", boom)


def _line(ax, label):
    found = [line for line in ax.lines if line.get_label() == label]
    assert len(found) == 1
    return found[0]


def _reference_matches(plan, virtual):
    """Plain argmax decoding: the oracle of the drawn matches."""
    rows = plan[:-1] if virtual else plan
    idx = rows.argmax(1)
    if virtual:
        idx = np.where(idx == plan.shape[1] - 1, -1, idx)
    return idx


def _vaot_plan(n=14, m=11, seed=0):
    rng = np.random.default_rng(seed)
    s = np.linspace(0, 1, n)
    t = np.linspace(0, 1, m)
    cost = np.abs(s[:, None] - t[None, :]) + 0.05 * rng.random((n, m))
    cost[3] += 5.0  # frame 3 of video a has no counterpart: virtual frame
    return vaot(cost, epsilon=0.02).plan


# --------------------------------------------------------------------------
# plot_alignment
# --------------------------------------------------------------------------


def test_alignment_virtual_plan_image_and_matches(no_show):
    plan = _vaot_plan()
    ax = plot_alignment(plan, virtual=True)
    n, m = plan.shape[0] - 1, plan.shape[1] - 1
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), plan)
    expected = _reference_matches(plan, virtual=True)
    assert expected[3] == -1  # the oracle sees the unmatched frame
    ok = expected >= 0
    dots = _line(ax, "matches")
    np.testing.assert_array_equal(dots.get_xdata(), expected[ok])
    np.testing.assert_array_equal(dots.get_ydata(), np.arange(n)[ok])
    crosses = _line(ax, "unmatched")
    np.testing.assert_array_equal(crosses.get_ydata(), np.flatnonzero(~ok))
    np.testing.assert_array_equal(crosses.get_xdata(), np.full((~ok).sum(), m))
    # the virtual row and column are set apart by lines at N - 1/2, M - 1/2
    sep_y = [line.get_ydata()[0] for line in ax.lines if line.get_label().startswith("_")
             and np.ptp(np.asarray(line.get_ydata(), float)) == 0]
    sep_x = [line.get_xdata()[0] for line in ax.lines if line.get_label().startswith("_")
             and np.ptp(np.asarray(line.get_xdata(), float)) == 0]
    assert n - 0.5 in sep_y and m - 0.5 in sep_x
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "virtual"
    assert ax.get_yticks()[-1] == n and ax.get_xticks()[-1] == m
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("frame of video a", "frame of video b")
    ax = plot_alignment(plan, virtual=True, names=("x", "y"))
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("frame of x", "frame of y")


def test_alignment_plain_plan_with_given_matches():
    rng = np.random.default_rng(1)
    plan = rng.random((6, 5))
    matches = np.array([0, -1, 2, 2, -1, 4])
    ax = plot_alignment(plan, matches=matches)  # virtual inferred: 6 matches, 6 rows
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), plan)
    dots = _line(ax, "matches")
    np.testing.assert_array_equal(dots.get_xdata(), [0, 2, 2, 4])
    np.testing.assert_array_equal(dots.get_ydata(), [0, 2, 3, 5])
    crosses = _line(ax, "unmatched")
    np.testing.assert_array_equal(crosses.get_ydata(), [1, 4])
    assert np.all(crosses.get_xdata() < -0.5)  # left of the first column
    assert "virtual" not in [t.get_text() for t in ax.get_yticklabels()]


def test_alignment_decodes_plain_plan_without_virtual():
    rng = np.random.default_rng(2)
    plan = rng.random((7, 9))
    ax = plot_alignment(plan, virtual=False)
    np.testing.assert_array_equal(_line(ax, "matches").get_xdata(), plan.argmax(1))
    assert len(_line(ax, "unmatched").get_xdata()) == 0


@dataclass
class _Alignment:
    plan: np.ndarray
    matches: np.ndarray
    cost: float = 0.0


def test_alignment_object_uses_its_matches():
    plan = _vaot_plan(8, 8)
    # deliberately not the argmax: the object's matches must be drawn as given
    matches = np.array([7, 6, 5, -1, 3, 2, 1, 0])
    ax = plot_alignment(_Alignment(plan, matches))
    dots = _line(ax, "matches")
    np.testing.assert_array_equal(dots.get_xdata(), [7, 6, 5, 3, 2, 1, 0])
    np.testing.assert_array_equal(dots.get_ydata(), [0, 1, 2, 4, 5, 6, 7])
    np.testing.assert_array_equal(_line(ax, "unmatched").get_ydata(), [3])
    assert ax.get_yticks()[-1] == 8  # virtual inferred from 8 matches, 9 rows
    # an explicit matches argument wins over the object's
    ax2 = plot_alignment(_Alignment(plan, matches), matches=np.arange(8))
    np.testing.assert_array_equal(_line(ax2, "matches").get_xdata(), np.arange(8))


def test_alignment_accepts_torch_and_draws_on_given_axes():
    torch = pytest.importorskip("torch")
    plan = _vaot_plan(10, 12)
    fig, ax = plt.subplots()
    out = plot_alignment(torch.as_tensor(plan), virtual=True, ax=ax, colorbar=False)
    assert out is ax
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), plan)
    np.testing.assert_array_equal(
        _line(ax, "matches").get_xdata(), _reference_matches(plan, True)[_reference_matches(plan, True) >= 0]
    )
    assert len(fig.axes) == 1  # no colour bar


def test_alignment_thumbnails_show_matched_frames():
    plan = _vaot_plan(12, 10)
    rng = np.random.default_rng(3)
    frames_a = rng.integers(0, 256, (12, 6, 8, 3), dtype=np.uint8)
    frames_b = rng.integers(0, 256, (10, 6, 8, 3), dtype=np.uint8)
    ax = plot_alignment(plan, virtual=True, frames_a=frames_a, frames_b=frames_b, n_thumbnails=4)
    matches = _reference_matches(plan, True)
    matched = np.flatnonzero(matches >= 0)
    # the oracle of the chosen rows: 4 evenly spread matched frames
    rows = matched[np.unique(np.linspace(0, matched.size - 1, 4).round().astype(int))]
    boxes = [a for a in ax.artists if isinstance(a, AnnotationBbox)]
    by_gid = {b.get_gid(): b for b in boxes}
    assert len(boxes) == 2 * len(rows) == 8
    for i in rows:
        img_a = by_gid[f"thumbnail_a_{i}"].offsetbox.get_data()
        img_b = by_gid[f"thumbnail_b_{matches[i]}"].offsetbox.get_data()
        np.testing.assert_array_equal(img_a, frames_a[i])
        np.testing.assert_array_equal(img_b, frames_b[matches[i]])
        # the connector points at the frame's row / column
        assert by_gid[f"thumbnail_a_{i}"].xy[1] == i
        assert by_gid[f"thumbnail_b_{matches[i]}"].xy[0] == matches[i]
    ax.figure.canvas.draw()  # the thumbnails render


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _colorbar_label(ax):
    bar = ax.images[0].colorbar
    return bar.ax.get_ylabel() if bar.orientation == "vertical" else bar.ax.get_xlabel()


def test_alignment_has_a_title_and_a_legend_of_the_markers():
    plan = _vaot_plan()  # 14 frames, frame 3 matched to the virtual frame
    ax = plot_alignment(plan, virtual=True)
    assert ax.get_title() == "Transport plan: video a vs video b"
    assert _legend_texts(ax) == ["decoded matches (13)", "matched to the virtual frame (1)"]
    # the legend's keys are the markers drawn: dots and crosses, in their colours
    handles = ax.get_legend().legend_handles
    assert [h.get_marker() for h in handles] == ["o", "x"]
    assert [h.get_color() for h in handles] == ["tab:orange", "tab:red"]
    # the names of the videos and a caller's title
    ax = plot_alignment(plan, virtual=True, names=("x", "y"))
    assert ax.get_title() == "Transport plan: x vs y"
    ax = plot_alignment(plan, virtual=True, title="my pair", legend=False)
    assert ax.get_title() == "my pair" and ax.get_legend() is None
    ax = plot_alignment(plan, virtual=True, title="")
    assert ax.get_title() == ""
    # without a virtual frame: unmatched frames, listed only when there are some
    plain = np.random.default_rng(1).random((6, 5))
    ax = plot_alignment(plain, matches=[0, -1, 2, 2, -1, 4])
    assert _legend_texts(ax) == ["decoded matches (4)", "unmatched frames (2)"]
    ax = plot_alignment(plain, matches=[0, 1, 2, 2, 3, 4])
    assert _legend_texts(ax) == ["decoded matches (6)"]


@dataclass
class _MethodAlignment:
    plan: np.ndarray
    matches: np.ndarray
    method: str


def _method_alignment(method):
    """The Alignment that ``VideoAligner(method=method).align`` builds, on
    embeddings of two smooth curves (skalign/_aligner.py)."""
    from skalign import VideoAligner
    from skalign._aligner import ALIGNMENT_METHODS

    s, t = np.linspace(0, 1.5, 40), np.linspace(0, 1.5, 32)
    emb_a = np.stack([np.cos(s), np.sin(s)], 1)
    emb_b = np.stack([np.cos(t), np.sin(t)], 1)
    return ALIGNMENT_METHODS[method].align(VideoAligner(method=method), emb_a, emb_b)


@pytest.mark.parametrize(
    "method, label, what",
    [
        ("vaot", "transported mass", "Transport plan"),
        ("vava", "transported mass", "Transport plan"),
        ("gta", "on the path (0/1)", "Alignment path"),
        ("sdtw", "on the path (0/1)", "Alignment path"),
        ("lac", "expected alignment", "Expected alignment"),
    ],
)
def test_alignment_colorbar_label_fits_each_method(method, label, what):
    res = _method_alignment(method)
    # what the method's align returns
    if method in ("gta", "sdtw"):
        assert np.isin(res.plan, [0.0, 1.0]).all()  # a DTW path
    elif method == "lac":  # an expected alignment, not quite 0/1
        assert not np.isin(res.plan, [0.0, 1.0]).all() and res.plan.max() <= 1.0 + 1e-9
    else:
        assert res.plan.sum() == pytest.approx(1.0)  # a transport plan
    ax = plot_alignment(res)  # inferred from the values
    assert _colorbar_label(ax) == label
    assert ax.get_title() == f"{what}: video a vs video b"
    ax = plot_alignment(res, kind=method)  # named by the caller
    assert _colorbar_label(ax) == label
    assert f"{method.upper() if method.startswith('va') else method}" in ax.get_title()
    ax = plot_alignment(_MethodAlignment(res.plan, res.matches, method))  # carried
    assert _colorbar_label(ax) == label
    assert ax.get_title() == plot_alignment(res, kind=method).get_title()
    if label.startswith("on the path"):
        assert list(ax.images[0].colorbar.get_ticks()) == [0.0, 1.0]


def test_alignment_colorbar_label_from_kind_value_label_and_values():
    plan = _vaot_plan()
    ax = plot_alignment(plan, virtual=True, kind="sdtw")
    assert ax.get_title() == "DTW path (sdtw): video a vs video b"
    assert _colorbar_label(ax) == "on the path (0/1)"
    ax = plot_alignment(plan, virtual=True, kind="path")
    assert _colorbar_label(ax) == "on the path (0/1)"
    assert ax.get_title() == "Alignment path: video a vs video b"
    ax = plot_alignment(plan, virtual=True, kind="expected", value_label="P(match)")
    assert _colorbar_label(ax) == "P(match)"
    assert ax.get_title() == "Expected alignment: video a vs video b"
    # a 0/1 matrix is a path; the threshold rule of VAOT puts more mass than 1
    # in its plan, much of it in the virtual row
    path = np.eye(6)
    assert _colorbar_label(plot_alignment(path, virtual=False)) == "on the path (0/1)"
    cost = 1.0 - np.cos(np.linspace(0, 1.5, 9)[:, None] - np.linspace(0, 1.5, 7)[None, :])
    threshold = vaot(cost, epsilon=0.04, virtual="threshold").plan
    assert 1.1 < threshold.sum() < 2.0 and threshold.sum(1).max() > 0.5
    assert _colorbar_label(plot_alignment(threshold, virtual=True)) == "transported mass"
    # scores may be negative or above 1
    scores = np.random.default_rng(0).normal(size=(5, 6))
    ax = plot_alignment(scores, virtual=False)
    assert _colorbar_label(ax) == "alignment score"
    assert ax.get_title() == "Alignment scores: video a vs video b"
    # with thumbnails of video a the bar sits below: a horizontal bar, same label
    frames = np.zeros((14, 4, 4, 3), np.uint8)
    ax = plot_alignment(plan, virtual=True, frames_a=frames, kind="plan")
    assert ax.images[0].colorbar.orientation == "horizontal"
    assert _colorbar_label(ax) == "transported mass"


def _marker_extent_px(ax, line):
    """Display boxes (x0, x1) of the markers of ``line``, in pixels."""
    xy = ax.transData.transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
    half = line.get_markersize() / 2 * ax.figure.dpi / 72.0 + line.get_markeredgewidth()
    return xy[:, 0] - half, xy[:, 0] + half


def test_alignment_unmatched_markers_lie_inside_the_axes():
    # a wide plan without a virtual frame: 200 columns, 3 frames unmatched
    rng = np.random.default_rng(0)
    plan = rng.random((20, 200))
    matches = plan.argmax(1)
    matches[[0, 9, 19]] = -1
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    plot_alignment(plan, matches=matches, ax=ax)
    fig.canvas.draw()
    crosses = _line(ax, "unmatched")
    np.testing.assert_array_equal(crosses.get_ydata(), [0, 9, 19])
    x0, x1 = ax.get_xlim()
    y_bottom, y_top = ax.get_ylim()
    assert np.all((x0 < crosses.get_xdata()) & (crosses.get_xdata() < -0.5))  # left of column 0
    assert np.all((y_top < crosses.get_ydata()) & (crosses.get_ydata() < y_bottom))
    # each cross, whole, lies within the axes (not cut by its left edge)
    box = ax.get_window_extent()
    left, right = _marker_extent_px(ax, crosses)
    assert np.all(left >= box.x0) and np.all(right <= ax.transData.transform((-0.5, 0))[0])
    # the strip is ticked as "no frame"
    ticks = dict(zip(ax.get_xticks(), [t.get_text() for t in ax.get_xticklabels()]))
    assert ticks[crosses.get_xdata()[0]] == "\u2205"
    # markers on the borders (rows 0 and 19, the virtual column) are drawn whole
    assert not crosses.get_clip_on() and not _line(ax, "matches").get_clip_on()
    # with a virtual frame: crosses in the virtual column, inside the limits
    vplan = _vaot_plan(14, 150)
    ax = plot_alignment(vplan, virtual=True)
    crosses = _line(ax, "unmatched")
    assert len(crosses.get_xdata()) >= 1
    x0, x1 = ax.get_xlim()
    assert np.all((x0 <= crosses.get_xdata()) & (crosses.get_xdata() <= x1))
    np.testing.assert_array_equal(crosses.get_xdata(), 150)


# --------------------------------------------------------------------------
# annotate_heatmap
# --------------------------------------------------------------------------


def _luminance(rgba):
    """WCAG relative luminance (the oracle of the text colours)."""
    c = np.asarray(rgba[:3], float)
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def test_annotate_heatmap_dark_text_on_light_cells():
    table = np.array([[0.10, 0.35], [0.60, 0.92]])
    fig, ax = plt.subplots()
    im = ax.imshow(table, vmin=0.1, vmax=0.92, cmap="viridis")
    texts = annotate_heatmap(im, fmt="{:.2f}")
    assert [t.get_text() for t in texts] == ["0.10", "0.35", "0.60", "0.92"]
    assert [t.get_position() for t in texts] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert all(t.axes is ax for t in texts)
    colors = [t.get_color() for t in texts]
    # viridis: dark purple at the bottom, bright yellow at the top
    assert colors[0] == "white" and colors[-1] == "black"
    for t, v in zip(texts, table.ravel()):
        # black and white give equal contrast at luminance sqrt(1.05 * 0.05) - 0.05
        lum = _luminance(matplotlib.colormaps["viridis"]((v - 0.1) / 0.82))
        assert t.get_color() == ("black" if lum > np.sqrt(1.05 * 0.05) - 0.05 else "white")
    # reversed colormap: the colours swap
    fig, ax = plt.subplots()
    im = ax.imshow(table, vmin=0.1, vmax=0.92, cmap="viridis_r")
    assert [t.get_color() for t in annotate_heatmap(im)][::3] == ["black", "white"]


def test_annotate_heatmap_extent_origin_data_and_nan():
    table = np.array([[0.0, np.nan, 1.0]])
    fig, ax = plt.subplots()
    im = ax.imshow(np.vstack([table, [1.0, 0.5, 0.0]]), cmap="gray", origin="lower",
                   extent=(0, 30, 0, 20))
    labels = np.array([["a", "b", "c"], ["d", "e", "f"]])
    texts = annotate_heatmap(im, labels, fmt="{}", colors=("navy", "yellow"), fontsize=7)
    # the NaN cell gets no text; row 0 is at the bottom with origin="lower"
    assert [t.get_text() for t in texts] == ["a", "c", "d", "e", "f"]
    assert [t.get_position() for t in texts] == [(5, 5), (25, 5), (5, 15), (15, 15), (25, 15)]
    assert [t.get_color() for t in texts] == ["yellow", "navy", "navy", "navy", "yellow"]
    assert texts[0].get_fontsize() == 7
    with pytest.raises(ValueError, match="shape"):
        annotate_heatmap(im, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="colors"):
        annotate_heatmap(im, colors=("black",))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(alignment_or_plan=np.zeros((2, 3, 3)), virtual=True), "2-D"),
        (dict(alignment_or_plan=np.full((3, 3), np.nan), virtual=False), "NaN"),
        (dict(alignment_or_plan=np.ones((3, 3))), "virtual=True"),
        (dict(alignment_or_plan=np.ones((3, 3)), matches=[0]), "matches has 1"),
        (dict(alignment_or_plan=np.ones((4, 4)), matches=[0, 1, 5]), r"\[-1, 3\)"),
        (dict(alignment_or_plan=np.ones((4, 4)), virtual=True, matches=[0, 1]), "matches has 2"),
        (dict(alignment_or_plan=np.ones((4, 4)), virtual="yes"), "virtual must be"),
        (dict(alignment_or_plan=np.ones((4, 4)), virtual=False, frames_a=np.zeros((4, 5, 5, 3))), "uint8"),
        (dict(alignment_or_plan=np.ones((4, 4)), virtual=False,
              frames_a=np.zeros((3, 5, 5, 3), np.uint8)), "frames_a has 3"),
        (dict(alignment_or_plan=np.ones((4, 4)), virtual=False,
              frames_b=np.zeros((4, 5, 5), np.uint8)), "frames_b must be"),
        (dict(alignment_or_plan=np.ones((4, 4)), virtual=False, n_thumbnails=-1), "n_thumbnails"),
        (dict(alignment_or_plan=np.array([["a"]]), virtual=False), "numeric"),
        (dict(alignment_or_plan=np.ones((4, 4)), virtual=False, names="ab"), "names"),
        (dict(alignment_or_plan=np.ones((4, 4)), virtual=False, kind="mass"), "kind must be"),
        (dict(alignment_or_plan=np.ones((4, 4)), virtual=False, kind=3), "kind must be"),
    ],
)
def test_alignment_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_alignment(**kwargs)


# --------------------------------------------------------------------------
# class_color and plot_segmentation
# --------------------------------------------------------------------------


def test_class_color_follows_the_colormap():
    tab10 = matplotlib.colormaps["tab10"].colors
    for c in range(12):
        assert class_color(c, "tab10") == pytest.approx(matplotlib.colors.to_rgba(tab10[c % 10]))
    tab20 = matplotlib.colormaps["tab20"].colors
    # dark shades (even entries) first, then the light ones
    assert class_color(0) == pytest.approx(matplotlib.colors.to_rgba(tab20[0]))
    assert class_color(1) == pytest.approx(matplotlib.colors.to_rgba(tab20[2]))
    assert class_color(10) == pytest.approx(matplotlib.colors.to_rgba(tab20[1]))
    assert class_color(21) == class_color(1)
    assert class_color(-1) == (0.8, 0.8, 0.8, 1.0)
    assert len({class_color(c) for c in range(20)}) == 20
    with pytest.raises(ValueError, match="label"):
        class_color(-2)
    with pytest.raises(ValueError, match="colormap"):
        class_color(0, "no-such-map")


def _row_labels(container, n_frames):
    """Per-frame labels and colours rebuilt from a row's rectangles."""
    labels = np.full(n_frames, -99)
    colors = {}
    for rect in container.patches:
        lo = int(round(rect.get_x()))
        hi = int(round(rect.get_x() + rect.get_width()))
        assert np.all(labels[lo:hi] == -99)  # runs do not overlap
        labels[lo:hi] = lo  # frame of the run start, mapped below
        colors[lo] = tuple(rect.get_facecolor())
    return labels, colors


def test_segmentation_bars_hold_the_labels_and_colours(no_show):
    pred = np.array([3, 3, 3, 0, 0, 1, 1, 1, 1, -1, 2, 2])
    gt = np.array([0, 0, 1, 1, 1, 1, -1, -1, 2, 2, 2, 3])
    ax = plot_segmentation(pred, gt, class_names=["a", "b", "c", "d"])
    assert len(ax.containers) == 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["prediction", "ground truth"]
    seen = {}
    for container, truth in zip(ax.containers, (pred, gt)):
        starts, colors = _row_labels(container, len(truth))
        assert np.all(starts >= 0)  # every frame covered
        # each rectangle covers one run of truth, coloured by its label
        for start, color in colors.items():
            run = truth[starts == start]
            assert np.all(run == truth[start])
            assert color == pytest.approx(class_color(truth[start]))
            seen.setdefault(int(truth[start]), set()).add(tuple(np.round(color, 6)))
        n_runs = 1 + np.count_nonzero(np.diff(truth))
        assert len(container.patches) == n_runs
    # one colour per class across both rows
    assert all(len(c) == 1 for c in seen.values())
    assert len({next(iter(c)) for c in seen.values()}) == len(seen)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["background", "a", "b", "c", "d"]


def test_segmentation_match_renames_clusters_to_classes():
    gt = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    pred = np.array([7, 7, 5, 5, 5, 5, 9, 9, 9, 4])
    ax = plot_segmentation({"model": pred}, gt, match=True)
    # oracle: Hungarian matching on the co-occurrence counts (scipy)
    clusters, classes = np.unique(pred), np.unique(gt)
    counts = np.array([[np.sum((pred == k) & (gt == c)) for c in classes] for k in clusters])
    r, c = linear_sum_assignment(-counts)
    mapping = {int(clusters[i]): int(classes[j]) for i, j in zip(r, c)}
    assert mapping == {7: 0, 5: 1, 9: 2}  # by hand: cluster 4 stays unmatched
    unmatched = [k for k in clusters if k not in mapping]
    fresh = {int(k): 3 + n for n, k in enumerate(unmatched)}
    expected = np.array([mapping.get(int(k), fresh.get(int(k))) for k in pred])
    for rect in ax.containers[0].patches:
        lo = int(round(rect.get_x()))
        assert tuple(rect.get_facecolor()) == pytest.approx(class_color(expected[lo]))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["model", "ground truth"]


def test_segmentation_several_rows_on_given_axes():
    fig, ax = plt.subplots()
    a = np.repeat([0, 1, 2], 4)
    b = np.repeat([2, 1, 0], 4)
    out = plot_segmentation({"first": a, "second": b}, ax=ax, legend=False)
    assert out is ax and ax.get_legend() is None
    assert [t.get_text() for t in ax.get_yticklabels()] == ["first", "second"]
    for container, truth in zip(ax.containers, (a, b)):
        widths = [p.get_width() for p in container.patches]
        assert widths == [4, 4, 4]
        assert [tuple(p.get_facecolor()) for p in container.patches] == [
            pytest.approx(class_color(v)) for v in truth[::4]
        ]


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (([[0, 1], [1, 0]],), {}, "1-D"),
        (([0, 1, 1], [0, 1]), {}, "gt has 2"),
        (([0.5, 1.0],), {}, "integer"),
        (([0, -2],), {}, ">= -1"),
        (([0, 1],), dict(match=True), "needs gt"),
        (({},), {}, "empty"),
        (({"a": [0, 1], "b": [0]},), {}, "'b' has 1"),
        (([],), {}, "no frame"),
    ],
)
def test_segmentation_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_segmentation(*args, **kwargs)


# --------------------------------------------------------------------------
# plot_embeddings
# --------------------------------------------------------------------------


def _videos(seed=4):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(25, 6)), rng.normal(size=(18, 6)) + 1.0]


def test_embeddings_pca_projection_and_progress_colours(no_show):
    videos = _videos()
    ax = plot_embeddings(videos)
    expected = PCA(n_components=2, svd_solver="full").fit_transform(np.concatenate(videos))
    parts = np.split(expected, [25])
    assert len(ax.collections) == 2
    for coll, part, video in zip(ax.collections, parts, videos):
        np.testing.assert_allclose(coll.get_offsets(), part, rtol=1e-12, atol=1e-12)
        progress = np.arange(len(video)) / (len(video) - 1)
        np.testing.assert_allclose(coll.get_array(), progress)
    # trajectories join the frames of each video in order
    traj = [line for line in ax.lines]
    assert len(traj) == 2
    np.testing.assert_allclose(traj[1].get_xdata(), parts[1][:, 0])
    assert len(ax.figure.axes) == 2  # the progress colour bar


def test_embeddings_coloured_by_phase():
    videos = _videos()
    labels = [np.repeat([0, 1, 2, -1, 2], 5), np.r_[np.zeros(9, int), np.ones(9, int)]]
    ax = plot_embeddings(videos, labels, trajectory=False)
    assert len(ax.lines) == 0
    for coll, lab in zip(ax.collections, labels):
        np.testing.assert_allclose(coll.get_facecolors(), [class_color(c) for c in lab])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["background", "phase 0", "phase 1", "phase 2"]


def test_embeddings_single_video_tsne_and_transformer():
    rng = np.random.default_rng(5)
    video = rng.normal(size=(30, 5))
    ax = plot_embeddings(video, np.repeat([0, 1, 2], 10), method="tsne", random_state=3)
    expected = TSNE(n_components=2, init="pca", perplexity=29 / 3, random_state=3).fit_transform(video)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), expected, rtol=1e-6, atol=1e-6)
    plt.close("all")
    whitened = PCA(n_components=2, whiten=True, svd_solver="full")
    ax = plot_embeddings([video], method=whitened)
    np.testing.assert_allclose(
        ax.collections[0].get_offsets(),
        PCA(n_components=2, whiten=True, svd_solver="full").fit_transform(video),
        rtol=1e-12, atol=1e-12,
    )
    assert not hasattr(whitened, "components_")  # the given transformer is cloned


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((np.zeros(5),), {}, "n_frames, n_dims"),
        ((np.zeros((5, 1)),), {}, "at least 2"),
        (([np.zeros((5, 3)), np.zeros((5, 4))],), {}, r"embeddings\[1\] has 4"),
        (([],), {}, "empty"),
        ((np.full((4, 3), np.nan),), {}, "NaN"),
        (([np.zeros((5, 3)), np.ones((4, 3))], [np.zeros(5, int)]), {}, "labels has 1"),
        (([np.zeros((5, 3))], [np.zeros(4, int)]), {}, r"labels\[0\] has 4"),
        ((np.zeros((5, 3)),), dict(method="umap"), "method"),
        ((np.zeros((5, 3)),), dict(method=object()), "method"),
    ],
)
def test_embeddings_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_embeddings(*args, **kwargs)


# --------------------------------------------------------------------------
# matplotlib is optional
# --------------------------------------------------------------------------


def test_missing_matplotlib_gives_clear_import_error(monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_alignment(np.eye(3), virtual=False)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_segmentation([0, 1])
