"""Frame sampling (one frame per equal bin) and the epoch plan of videos and pairs."""

import numpy as np
import pytest
import torch

from skalign.engine import FrameBatch, PairBatch, VideoSampler, bin_sample, gather_frames


@pytest.mark.parametrize("n_total, n_frames", [(100, 7), (33, 32), (1000, 32), (10, 10)])
def test_bin_sample_one_index_per_equal_bin(n_total, n_frames):
    for seed in range(20):
        idx = bin_sample(n_total, n_frames, torch.Generator().manual_seed(seed)).numpy()
        assert idx.dtype == np.int64 and idx.shape == (n_frames,)
        # bin b is [floor(b n / T), floor((b + 1) n / T))
        lo = np.array([b * n_total // n_frames for b in range(n_frames)])
        hi = np.array([(b + 1) * n_total // n_frames for b in range(n_frames)])
        assert np.all((lo <= idx) & (idx < hi))
        assert np.all(np.diff(idx) > 0)


def test_bin_sample_is_uniform_within_bins():
    # 10 frames, 2 bins of 5: each frame of a bin has probability 1/5
    counts = np.zeros(10)
    g = torch.Generator().manual_seed(0)
    n = 4000
    for _ in range(n):
        counts[bin_sample(10, 2, g).numpy()] += 1
    freq = counts / n
    assert np.abs(freq - 0.2).max() < 0.03     # binomial sd = 0.0063


def test_bin_sample_seeding():
    a = bin_sample(500, 16, torch.Generator().manual_seed(1))
    b = bin_sample(500, 16, torch.Generator().manual_seed(1))
    c = bin_sample(500, 16, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bin_sample_short_video_gives_all_frames():
    assert bin_sample(5, 8).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="n_total"):
        bin_sample(0, 3)
    with pytest.raises(ValueError, match="n_frames"):
        bin_sample(5, 0)


def test_gather_frames_hand_computed():
    video = torch.arange(12).reshape(6, 2)
    got = gather_frames(video, torch.tensor([0, 3, 5]), (-2, 0))
    expected = torch.tensor([[[0, 1], [0, 1]], [[2, 3], [6, 7]], [[6, 7], [10, 11]]])
    assert torch.equal(got, expected)
    assert torch.equal(gather_frames(video, torch.tensor([4, 1])), video[[4, 1]])


def _videos(lengths, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g) for n in lengths]


def test_pairs_are_distinct_and_every_video_leads_once():
    lengths = [40, 41, 42, 43, 44, 45]
    videos = _videos(lengths)
    sampler = VideoSampler(lengths, n_frames=8, batch_size=3, pairs=True)
    assert sampler.steps_per_epoch == 2
    batches = list(sampler.iter_epoch(videos, seed=5, epoch=0))
    assert all(isinstance(b, PairBatch) for b in batches)
    leaders = torch.cat([b.x.video for b in batches])
    assert sorted(leaders.tolist()) == list(range(6))
    for b in batches:
        assert (b.x.video != b.y.video).all()
        for fb in (b.x, b.y):
            assert fb.frames.shape == (3, 8, 3) and fb.mask.all()
            for k in range(3):            # the frames are the video's frames at the indices
                v = int(fb.video[k])
                assert torch.equal(fb.frames[k], videos[v][fb.index[k]])
                assert int(fb.lengths[k]) == lengths[v]


def test_partner_is_uniform_over_the_other_videos():
    lengths = [10] * 4
    sampler = VideoSampler(lengths, n_frames=2, batch_size=4, pairs=True)
    counts = np.zeros((4, 4))
    for epoch in range(600):
        first, second = sampler.plan_epoch(seed=0, epoch=epoch)
        for a, b in zip(first.flatten().tolist(), second.flatten().tolist()):
            counts[a, b] += 1
    assert np.all(np.diag(counts) == 0)
    freq = counts / counts.sum(1, keepdims=True)
    off = freq[~np.eye(4, dtype=bool)]
    assert np.abs(off - 1 / 3).max() < 0.05          # sd ~ 0.019 per entry


def test_epoch_plans_are_seeded():
    s = VideoSampler([20] * 5, n_frames=4, batch_size=2)
    a = list(s.iter_epoch(_videos([20] * 5), seed=1, epoch=3))
    b = list(s.iter_epoch(_videos([20] * 5), seed=1, epoch=3))
    c = list(s.iter_epoch(_videos([20] * 5), seed=1, epoch=4))
    same = all(torch.equal(p.x.index, q.x.index) and torch.equal(p.y.video, q.y.video) for p, q in zip(a, b))
    assert same
    assert not all(torch.equal(p.x.index, q.x.index) for p, q in zip(a, c))


def test_ranks_split_the_epoch_order():
    lengths = [30] * 8
    single = VideoSampler(lengths, batch_size=4, pairs=False)
    ranks = [VideoSampler(lengths, batch_size=2, pairs=False, rank=r, world_size=2) for r in (0, 1)]
    assert single.steps_per_epoch == ranks[0].steps_per_epoch == 2
    order, _ = single.plan_epoch(seed=9, epoch=0)
    parts = [s.plan_epoch(seed=9, epoch=0)[0] for s in ranks]
    # at every step the ranks' videos, side by side, are the single-process batch
    assert torch.equal(torch.cat(parts, dim=1), order)
    assert set(parts[0].flatten().tolist()).isdisjoint(parts[1].flatten().tolist())


def test_short_videos_are_padded_and_masked_and_all_frames_mode():
    lengths = [3, 12]
    videos = _videos(lengths)
    s = VideoSampler(lengths, n_frames=5, batch_size=2, pairs=False, context_offsets=(-1, 0))
    (batch,) = list(s.iter_epoch(videos, seed=0, epoch=0))
    assert isinstance(batch, FrameBatch)
    assert batch.frames.shape == (2, 5, 2, 3)
    short = int((batch.video == 0).nonzero())
    assert batch.mask[short].tolist() == [True] * 3 + [False] * 2
    assert batch.index[short].tolist() == [0, 1, 2, 2, 2]
    assert batch.n_sampled.tolist()[short] == 3
    whole = VideoSampler(lengths, n_frames=None, batch_size=2, pairs=False)
    (b2,) = list(whole.iter_epoch(videos, seed=0, epoch=0))
    assert b2.frames.shape == (2, 12, 3) and b2.mask.sum().item() == 15


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match="empty"):
        VideoSampler([])
    with pytest.raises(ValueError, match="at least 2 videos"):
        VideoSampler([10], pairs=True)
    with pytest.raises(ValueError, match="video 1 has no frames"):
        VideoSampler([10, 0])
    with pytest.raises(ValueError, match="batch_size"):
        VideoSampler([10, 10], batch_size=0)
    with pytest.raises(ValueError, match="rank"):
        VideoSampler([10, 10], rank=2, world_size=2)
