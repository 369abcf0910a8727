"""scikit-learn's estimator contract, checked on lists of videos.

scikit-learn's :func:`~sklearn.utils.estimator_checks.check_estimator`
feeds estimators 2-D arrays, which is not what skalign's estimators take
(their tags say so: ``input_tags.two_d_array`` is false). This module ports
the invariants of those checks to the input skalign's estimators do take, a
list of videos of different lengths, as tslearn does for its time series:
the fitting contract, determinism, persistence, input handling and model
selection.

Use :func:`check_estimator` on an estimator, or :func:`estimator_checks` to
parametrise a test suite with one test per check::

    @pytest.mark.parametrize("check", estimator_checks(VideoAligner(max_epochs=1)), ids=str)
    def test_contract(check):
        check()
"""

from __future__ import annotations

import functools
import io
import os
import pickle
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

__all__ = ["check_estimator", "estimator_checks", "make_check_videos"]


def make_check_videos(n_videos: int = 4, n_features: int = 5, random_state: int = 0) -> list[np.ndarray]:
    """Small videos of one synthetic process: float features of 14 to 22 frames.

    Parameters
    ----------
    n_videos : int, default=4
    n_features : int, default=5
    random_state : int, default=0

    Returns
    -------
    videos : list of ndarray of shape (n_frames_i, n_features)
    """
    from ..datasets import make_process_videos

    videos, _ = make_process_videos(n_videos, 3, n_frames=(14, 22), n_features=n_features,
                                    random_state=random_state)
    return videos


class _Check:
    """One named check bound to an estimator; ``str`` gives its name."""

    def __init__(self, fn: Callable[..., None], estimator: Any, videos: list[np.ndarray]) -> None:
        self.fn, self.estimator, self.videos = fn, estimator, videos
        functools.update_wrapper(self, fn)

    def __call__(self) -> None:
        self.fn(clone(self.estimator), [v.copy() for v in self.videos])

    def __str__(self) -> str:
        return f"{type(self.estimator).__name__}-{self.fn.__name__}"


def _outputs(est: Any, videos: list[np.ndarray]) -> list[np.ndarray]:
    out = [np.asarray(e) for e in est.transform(videos)]
    if hasattr(est, "predict"):
        out += [np.asarray(p) for p in est.predict(videos)]
    return out


def _assert_same_outputs(a: list[np.ndarray], b: list[np.ndarray], what: str) -> None:
    assert len(a) == len(b), what
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=what)


# ------------------------------------------------------------ fitting contract
def check_no_attributes_set_in_init(est: Any, videos: list) -> None:
    """``__init__`` stores its parameters, and only them."""
    params = est.get_params(deep=False)
    attrs = {k for k in vars(est) if not k.startswith("_")}
    assert attrs == set(params), f"__init__ sets {sorted(attrs ^ set(params))}"


def check_get_params_set_params(est: Any, videos: list) -> None:
    """``set_params`` returns the estimator and ``get_params`` reads it back."""
    params = est.get_params(deep=False)
    assert est.set_params(**params) is est
    assert est.get_params(deep=False) == params


def check_clone_is_equal_and_unfitted(est: Any, videos: list) -> None:
    """A clone of a fitted estimator has equal parameters and no fitted state."""
    est.fit(videos)
    other = clone(est)
    assert other.get_params(deep=False) == est.get_params(deep=False)
    assert not [k for k in vars(other) if k.endswith("_") and not k.startswith("_")]


def check_fit_returns_self(est: Any, videos: list) -> None:
    assert est.fit(videos) is est


def check_unfitted_raises_not_fitted(est: Any, videos: list) -> None:
    """Every method that needs a fit raises NotFittedError before it."""
    calls = [("transform", (videos,))]
    if hasattr(est, "align"):
        calls.append(("align", (videos[0], videos[1])))
    if hasattr(est, "predict"):
        calls.append(("predict", (videos,)))
    for name, args in calls:
        try:
            getattr(est, name)(*args)
        except NotFittedError:
            continue
        raise AssertionError(f"{name} before fit did not raise NotFittedError")


def check_fitted_attributes(est: Any, videos: list) -> None:
    """``n_features_in_`` and the embedding size after fit; none before."""
    assert not hasattr(est, "n_features_in_")
    est.fit(videos)
    assert est.n_features_in_ == videos[0].shape[1]
    emb = est.transform(videos[0])
    assert emb.shape == (len(videos[0]), est.embedding_dim_) and emb.dtype == np.float32


def check_fit_does_not_change_its_input(est: Any, videos: list) -> None:
    before = [v.copy() for v in videos]
    est.fit(videos)
    for a, b in zip(before, videos):
        np.testing.assert_array_equal(a, b)


def check_fit_does_not_change_its_parameters(est: Any, videos: list) -> None:
    """Parameters (a module given as ``encoder`` included) are not mutated."""
    before = {k: pickle.dumps(v) for k, v in est.get_params(deep=False).items()}
    est.fit(videos)
    after = {k: pickle.dumps(v) for k, v in est.get_params(deep=False).items()}
    assert after.keys() == before.keys()
    changed = [k for k in before if after[k] != before[k]]
    assert not changed, f"fit changed the parameters {changed}"


def check_refit_is_idempotent(est: Any, videos: list) -> None:
    """Fitting twice gives the model of fitting once (no state carried over)."""
    first = _outputs(est.fit(videos), videos)
    _assert_same_outputs(first, _outputs(est.fit(videos), videos), "refit")


def check_fit_transform_equals_fit_then_transform(est: Any, videos: list) -> None:
    a = est.fit_transform(videos)
    b = clone(est).fit(videos).transform(videos)
    _assert_same_outputs(a, b, "fit_transform")


# ------------------------------------------------------------- determinism
def check_same_random_state_same_model(est: Any, videos: list) -> None:
    est.set_params(random_state=0)
    _assert_same_outputs(_outputs(clone(est).fit(videos), videos),
                         _outputs(clone(est).fit(videos), videos), "random_state=0 twice")


def check_transform_is_per_video(est: Any, videos: list) -> None:
    """A video's embedding does not depend on the other videos of the call
    (unless the encoder is sequence-level, which is per video anyway)."""
    est.fit(videos)
    together = est.transform(videos)
    alone = [est.transform(v) for v in videos]
    _assert_same_outputs(together, alone, "transform of a list vs one by one")


# ------------------------------------------------------------- persistence
def check_pickle_round_trip(est: Any, videos: list) -> None:
    est.fit(videos)
    again = pickle.loads(pickle.dumps(est))
    _assert_same_outputs(_outputs(est, videos), _outputs(again, videos), "pickle")
    assert again.get_params(deep=False).keys() == est.get_params(deep=False).keys()


def check_model_file_round_trip(est: Any, videos: list) -> None:
    """The ``.skalign`` file (no code run on load) gives the same results."""
    from ..persist import load_model, save_model

    est.fit(videos)
    with tempfile.TemporaryDirectory() as folder:
        again = load_model(save_model(est, os.path.join(folder, "m.skalign")))
    _assert_same_outputs(_outputs(est, videos), _outputs(again, videos), "save_model")


def check_pickle_before_fit(est: Any, videos: list) -> None:
    buf = io.BytesIO()
    pickle.dump(est, buf)
    again = pickle.loads(buf.getvalue())
    assert again.get_params(deep=False).keys() == est.get_params(deep=False).keys()


# ---------------------------------------------------------- input handling
def check_accepts_tuples_lists_and_collections(est: Any, videos: list) -> None:
    """A tuple, a list and a VideoCollection of .npy files fit the same model."""
    from ..io import VideoCollection, write_features

    ref = _outputs(clone(est).fit(videos), videos)
    _assert_same_outputs(ref, _outputs(clone(est).fit(tuple(videos)), videos), "tuple")
    with tempfile.TemporaryDirectory() as folder:
        paths = [write_features(os.path.join(folder, f"v{i}.npy"), v) for i, v in enumerate(videos)]
        got = _outputs(clone(est).fit(VideoCollection(paths)), videos)
    _assert_same_outputs(ref, got, "VideoCollection")


def check_integer_and_float64_features(est: Any, videos: list) -> None:
    """float64 and float32 features fit the same model (embedded in float32)."""
    a = _outputs(clone(est).fit([v.astype(np.float64) for v in videos]), videos)
    b = _outputs(clone(est).fit([v.astype(np.float32) for v in videos]), videos)
    _assert_same_outputs(a, b, "float64 vs float32")


def _raises(exc: type, fn: Callable[[], Any], *words: str) -> None:
    try:
        fn()
    except exc as err:
        msg = str(err)
        for w in words:
            assert w in msg, f"{exc.__name__} message {msg!r} lacks {w!r}"
        return
    raise AssertionError(f"no {exc.__name__} raised")


def check_rejects_a_single_video_in_fit(est: Any, videos: list) -> None:
    _raises(ValueError, lambda: est.fit(videos[0]), "list of videos")


def check_rejects_an_empty_list(est: Any, videos: list) -> None:
    _raises(ValueError, lambda: est.fit([]), "empty")


def check_rejects_nan_naming_the_video(est: Any, videos: list) -> None:
    bad = [v.copy() for v in videos]
    bad[1][3, 0] = np.nan
    _raises(ValueError, lambda: est.fit(bad), "videos[1]")


def check_rejects_other_feature_sizes_after_fit(est: Any, videos: list) -> None:
    est.fit(videos)
    _raises(ValueError, lambda: est.transform(videos[0][:, :-1]), "fitted on")


def check_invalid_parameter_is_named(est: Any, videos: list) -> None:
    est.set_params(max_epochs=-1)
    _raises(ValueError, lambda: est.fit(videos), "max_epochs")


# ---------------------------------------------------------- model selection
def check_cross_val_score(est: Any, videos: list) -> None:
    """``cross_val_score`` on a list of videos gives finite scores (a
    segmenter's MoF against per-frame labels: here every frame in one class,
    which tests the plumbing, not the quality)."""
    from sklearn.base import is_clusterer

    y = [np.zeros(len(v), dtype=np.int64) for v in videos] if is_clusterer(est) else None
    scores = cross_val_score(est, videos, y, cv=KFold(2), error_score="raise")
    assert len(scores) == 2 and np.all(np.isfinite(scores)), scores


def check_grid_search(est: Any, videos: list) -> None:
    """``GridSearchCV`` over a parameter refits the best on every video."""
    from sklearn.base import is_clusterer

    y = [np.zeros(len(v), dtype=np.int64) for v in videos] if is_clusterer(est) else None
    search = GridSearchCV(est, {"lr": [1e-3, 2e-3]}, cv=KFold(2), error_score="raise").fit(videos, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_params_["lr"] in (1e-3, 2e-3)
    assert len(search.best_estimator_.transform(videos)) == len(videos)


_CHECKS = [
    check_no_attributes_set_in_init,
    check_get_params_set_params,
    check_clone_is_equal_and_unfitted,
    check_fit_returns_self,
    check_unfitted_raises_not_fitted,
    check_fitted_attributes,
    check_fit_does_not_change_its_input,
    check_fit_does_not_change_its_parameters,
    check_refit_is_idempotent,
    check_fit_transform_equals_fit_then_transform,
    check_same_random_state_same_model,
    check_transform_is_per_video,
    check_pickle_round_trip,
    check_model_file_round_trip,
    check_pickle_before_fit,
    check_accepts_tuples_lists_and_collections,
    check_integer_and_float64_features,
    check_rejects_a_single_video_in_fit,
    check_rejects_an_empty_list,
    check_rejects_nan_naming_the_video,
    check_rejects_other_feature_sizes_after_fit,
    check_invalid_parameter_is_named,
    check_cross_val_score,
    check_grid_search,
]


def estimator_checks(estimator: Any, videos: list[np.ndarray] | None = None) -> Iterator[_Check]:
    """The checks of the contract, each a callable named by ``str``.

    Parameters
    ----------
    estimator : estimator
        An unfitted skalign estimator (cloned for every check). Keep it
        small: every check fits it once or a few times.
    videos : list of ndarray, default=None
        Feature videos to fit on; :func:`make_check_videos` by default.

    Yields
    ------
    check : callable
        ``check()`` runs one check and raises ``AssertionError`` when the
        estimator breaks it.
    """
    videos = make_check_videos() if videos is None else videos
    for fn in _CHECKS:
        yield _Check(fn, estimator, videos)


def check_estimator(estimator: Any, videos: list[np.ndarray] | None = None) -> None:
    """Run every check of the contract on ``estimator``.

    Parameters
    ----------
    estimator : estimator
        An unfitted skalign estimator.
    videos : list of ndarray, default=None
        Feature videos to fit on; :func:`make_check_videos` by default.

    Raises
    ------
    AssertionError
        At the first broken check, named in the message.

    Examples
    --------
    >>> from skalign import VideoAligner
    >>> from skalign.utils.estimator_checks import check_estimator
    >>> check_estimator(VideoAligner(max_epochs=1, embedding_dim=4, device="cpu"))
    """
    for check in estimator_checks(estimator, videos):
        try:
            check()
        except AssertionError as err:
            raise AssertionError(f"{check}: {err}") from err
