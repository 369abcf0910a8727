"""The thread policy: scoped limits, n_jobs, one thread for small solves."""

from __future__ import annotations

import os

import joblib
import numpy as np
import pytest
import torch
from torch import nn

from skalign import VideoAligner
from skalign.datasets import make_process_videos
from skalign.utils import SMALL_WORK, effective_n_threads, small_work_on_one_thread, thread_limit


@pytest.fixture
def two_threads():
    """torch on 2 intra-op threads for the test, whatever the machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_effective_n_threads_follows_scikit_learn():
    assert effective_n_threads(None) == 1
    assert effective_n_threads(3) == 3
    assert effective_n_threads(-1) == (os.cpu_count() or 1)
    with joblib.parallel_config(n_jobs=2):
        assert effective_n_threads(None) == 2
    with pytest.raises(ValueError, match="n_jobs == 0"):
        effective_n_threads(0)


def test_thread_limit_sets_and_restores_nested(two_threads):
    with thread_limit(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
        with thread_limit(2):
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="at least 1"):
        with thread_limit(0):
            pass


def test_thread_limit_restores_after_an_error(two_threads):
    with pytest.raises(RuntimeError):
        with thread_limit(1, blas=True):
            raise RuntimeError("boom")
    assert torch.get_num_threads() == 2


def test_thread_limit_reaches_numba_and_blas(two_threads):
    numba = pytest.importorskip("numba")
    from threadpoolctl import threadpool_info

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread here")
    numba.set_num_threads(2)
    with thread_limit(1, blas=True):
        assert numba.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert numba.get_num_threads() == 2


def test_small_cost_is_solved_on_one_thread(two_threads):
    seen = []

    @small_work_on_one_thread
    def probe(cost, max_iter=25):
        seen.append(torch.get_num_threads())
        return cost

    probe(np.zeros((10, 10)))
    probe(torch.zeros(SMALL_WORK))
    probe(torch.zeros(SMALL_WORK - 1))
    # a long solve of a small matrix is large work: the caller's threads
    probe(torch.zeros(SMALL_WORK // 8), max_iter=25 * 8)
    probe(torch.zeros(SMALL_WORK // 8), max_iter=25 * 7)
    assert seen == [1, 2, 1, 2, 1]
    assert torch.get_num_threads() == 2
    assert probe.__name__ == "probe"


def test_solvers_and_recursions_use_the_policy(two_threads, monkeypatch):
    from skalign.ot import _vaot
    from skalign.ot import vaot
    from skalign.sequence import soft_dtw

    seen = []
    solve = _vaot.fgw_solve

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return solve(*args, **kwargs)

    monkeypatch.setattr(_vaot, "fgw_solve", spy)
    t = np.linspace(0, 1, 30)
    vaot(np.abs(t[:, None] - t[None, :]), epsilon=0.1)
    assert seen == [1] and torch.get_num_threads() == 2
    res = soft_dtw(torch.rand(20, 25, dtype=torch.float64, requires_grad=True))
    res.value.backward()
    assert torch.get_num_threads() == 2


class _Recorder(nn.Module):
    """An MLP that writes down the intra-op threads of each forward pass."""

    calls: list = []

    def __init__(self, n_features: int):
        super().__init__()
        self.net = nn.Linear(n_features, 8)
        self.embedding_dim = 8

    def forward(self, x, *rest):
        _Recorder.calls.append(torch.get_num_threads())
        return nn.functional.normalize(self.net(x.float()), dim=-1)


@pytest.mark.parametrize("n_jobs, want", [(None, 1), (2, 2)])
def test_estimator_runs_on_n_jobs_threads(two_threads, n_jobs, want):
    videos, _ = make_process_videos(4, 3, n_frames=(20, 24), n_features=6, random_state=0)
    _Recorder.calls = []
    est = VideoAligner(encoder=_Recorder(6), max_epochs=1, n_frames=8, n_jobs=n_jobs,
                       device="cpu", random_state=0).fit(videos)
    est.transform(videos[0])
    est.align(videos[0], videos[1])
    assert _Recorder.calls and set(_Recorder.calls) == {want}
    assert torch.get_num_threads() == 2
    assert est.get_params()["n_jobs"] == n_jobs


def test_n_jobs_is_validated():
    videos, _ = make_process_videos(3, 3, n_frames=(20, 24), n_features=6, random_state=0)
    with pytest.raises(ValueError, match="n_jobs"):
        VideoAligner(n_jobs="all", max_epochs=1).fit(videos)


def test_default_n_jobs_leaves_the_threads_of_a_cuda_estimator(two_threads):
    from skalign.utils import with_n_jobs

    class Est:
        def __init__(self, device, n_jobs=None):
            self.device, self.n_jobs = device, n_jobs

        def _device(self):
            return torch.device(self.device)

        @with_n_jobs
        def fit(self):
            return torch.get_num_threads()

    assert Est("cuda").fit() == 2  # the CPU feeds the GPU: threads as they were
    assert Est("cuda", n_jobs=1).fit() == 1
    assert Est("cpu").fit() == 1
