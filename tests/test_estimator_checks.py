"""scikit-learn's estimator contract on lists of videos, for every estimator and method."""

import pytest
from sklearn.base import is_classifier, is_clusterer, is_regressor

from skalign import ActionSegmenter, JointAlignSegment, VideoAligner
from skalign._aligner import ALIGNMENT_METHODS
from skalign._segmenter import SEGMENTATION_METHODS
from skalign.utils.estimator_checks import check_estimator, estimator_checks

FAST = dict(max_epochs=1, batch_size=2, n_frames=8, embedding_dim=4, device="cpu", random_state=0)
ESTIMATORS = (
    [VideoAligner(method=m, **FAST) for m in ALIGNMENT_METHODS]
    + [ActionSegmenter(2, method=m, **FAST) for m in SEGMENTATION_METHODS]
    + [JointAlignSegment(2, **FAST)]
)
CASES = [(est, check) for est in ESTIMATORS for check in estimator_checks(est)]


def _id(case):
    est, check = case
    method = getattr(est, "method", "")
    return f"{check}" + (f"[{method}]" if method else "")


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_contract(case):
    _, check = case
    check()


def test_tags_say_lists_of_videos():
    for est in ESTIMATORS:
        tags = est.__sklearn_tags__()
        assert not tags.input_tags.two_d_array and not tags.target_tags.required
    assert is_clusterer(ActionSegmenter(2)) and is_clusterer(JointAlignSegment(2))
    assert not (is_classifier(VideoAligner()) or is_regressor(VideoAligner()) or is_clusterer(VideoAligner()))


class _Broken(VideoAligner):
    """fit forgets to return self."""

    def fit(self, videos, y=None):
        super().fit(videos, y)


def test_a_broken_estimator_fails_the_checks():
    with pytest.raises(AssertionError, match="check_fit_returns_self"):
        check_estimator(_Broken(**FAST))
