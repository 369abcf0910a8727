"""Bad inputs of issue 14 (items 6, 7 and 9): clear errors, finite embeddings,
O(N M) alignment memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from skalign._aligner import VideoAligner, _lac_align, _vava_align
from skalign._base import check_video_list, is_single_video
from skalign.encoders import ConvEncoder, MLPEncoder
from skalign.io._collection import MAX_ABS_FEATURE
from skalign.losses._common import squared_distances
from skalign.losses._lac import inverse_distance_similarity
from skalign.losses._vava import vava_plan, vava_psi
from skalign.ot import sinkhorn

FAST = dict(embedding_dim=8, max_epochs=1, n_frames=10, batch_size=2, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def videos():
    rng = np.random.default_rng(0)
    return [rng.normal(size=(n, 6)) for n in (20, 23, 21)]


@pytest.fixture(scope="module")
def vava(videos):
    return VideoAligner("vava", **FAST).fit(videos)


# ------------------------------------------------------------ item 6: overflow
@pytest.mark.parametrize("scale", [1e20, 1e30])
def test_encoder_embeddings_of_huge_values_are_unit_vectors(scale):
    # before: float32 overflow in the norm gave all-zero embeddings
    torch.manual_seed(0)
    enc = MLPEncoder(8, 16)
    x = torch.randn(5, 8)
    z = enc(x * scale)
    assert torch.isfinite(z).all()
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(5))
    # a large common scale does not change the direction (bias negligible)
    torch.testing.assert_close(z, enc(x * (scale * 10)), atol=1e-5, rtol=0)


def test_normalisation_keeps_zero_and_values_and_gradients():
    torch.manual_seed(0)
    enc = MLPEncoder(4, 3, hidden_sizes=())
    with torch.no_grad():
        enc.net[0].weight.zero_()
        enc.net[0].bias.zero_()
    assert torch.equal(enc(torch.randn(2, 4)), torch.zeros(2, 3))
    z = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    from skalign.encoders._common import l2_normalize
    ref = torch.nn.functional.normalize(z, dim=-1)
    torch.testing.assert_close(l2_normalize(z), ref)
    g = torch.randn(6, 5, dtype=torch.float64)
    (ga,) = torch.autograd.grad((l2_normalize(z) * g).sum(), z)
    (gb,) = torch.autograd.grad((ref * g).sum(), z)
    torch.testing.assert_close(ga, gb)


def test_conv_encoder_output_is_unit_norm():
    torch.manual_seed(0)
    z = ConvEncoder(8)(torch.randint(0, 255, (3, 16, 16, 3), dtype=torch.uint8))
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(3))


def test_features_of_1e20_are_refused_naming_the_video(vava, videos):
    # before: all-zero embeddings, without a word
    with pytest.raises(ValueError, match=r"^video holds \d+ feature value\(s\) beyond \+-1e\+18"):
        vava.transform(videos[0] * 1e20)
    with pytest.raises(ValueError, match=r"^videos\[1\] holds .* in frame 0; features are embedded in float32"):
        vava.transform([videos[0], videos[1] * 1e20])


def test_float64_beyond_float32_is_refused(vava, videos, tmp_path):
    # before: passed validation, became inf in float32: NaN embeddings, NaN vava plan
    big = videos[1] * 1e39
    assert big.dtype == np.float64 and np.isfinite(big).all()
    with pytest.raises(ValueError, match=r"^b holds \d+ feature value\(s\) beyond"):
        vava.align(videos[0], big)
    with pytest.raises(ValueError, match=r"^videos\[1\] holds"):
        VideoAligner("vava", **FAST).fit([videos[0], big])
    path = tmp_path / "huge.npy"
    np.save(path, big)
    with pytest.raises(ValueError, match=r"^videos\[0\] \(.*huge\.npy\) holds \d+ feature value"):
        vava.transform([path])


def test_values_at_the_bound_give_finite_unit_embeddings(vava, videos):
    x = videos[0] / np.abs(videos[0]).max() * MAX_ABS_FEATURE
    emb = vava.transform(x)
    assert np.isfinite(emb).all()
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vava.align(x, videos[1]).plan).all()


# -------------------------------------------------------- item 7: O(N M) memory
def _dense(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x[..., :, None, :] - y[..., None, :, :]).pow(2).sum(-1)


@pytest.mark.parametrize("shape", [((7, 3), (5, 3)), ((2, 300, 40), (2, 250, 40)), ((1, 1), (4, 1))])
def test_chunked_squared_distances_equal_the_dense_formula(shape):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*shape[0], generator=g, dtype=torch.float64)
    y = torch.randn(*shape[1], generator=g, dtype=torch.float64)
    torch.testing.assert_close(squared_distances(x, y), _dense(x, y), rtol=1e-12, atol=1e-12)
    # with autograd (training): the same values and gradients
    xr, yr = x.clone().requires_grad_(), y.clone().requires_grad_()
    d = squared_distances(xr, yr)
    gx, gy = torch.autograd.grad(d.sum(), (xr, yr))
    xd, yd = x.clone().requires_grad_(), y.clone().requires_grad_()
    hx, hy = torch.autograd.grad(_dense(xd, yd).sum(), (xd, yd))
    torch.testing.assert_close(gx, hx)
    torch.testing.assert_close(gy, hy)


def test_vava_and_lac_align_equal_the_dense_reference(videos):
    # the chunked path is taken: 300 x 280 x 64 is beyond one block
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 64)), rng.normal(size=(280, 64))
    ta, tb = torch.as_tensor(a), torch.as_tensor(b)
    est = VideoAligner("vava", **FAST)
    est.history_ = {"n_steps": [3]}
    res = _vava_align(est, a, b)
    ref = vava_plan(_dense(ta, tb), psi=vava_psi(3, est.psi_decay), sigma=est.prior_sigma,
                    zeta=est.zeta, lambda1=est.lambda1, lambda2=est.lambda2,
                    virtual=True, max_iter=est.max_iter).numpy()
    np.testing.assert_allclose(res.plan, ref, rtol=1e-10, atol=1e-15)
    sim = inverse_distance_similarity(ta[None], tb[None])[0]
    torch.testing.assert_close(sim, 1.0 / (_dense(ta, tb) + 0.1), rtol=1e-12, atol=1e-12)
    lac = _lac_align(VideoAligner("lac", **FAST), a, b)
    assert lac.plan.shape == (300, 280) and np.isfinite(lac.plan).all()


_MEMORY_SCRIPT = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from skalign._aligner import VideoAligner
    rng = np.random.default_rng(0)
    vids = [rng.normal(size=(30, 16)) for _ in range(2)]
    est = VideoAligner(sys.argv[1], embedding_dim=128, max_epochs=0, device="cpu").fit(vids)
    a, b = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    est.align(a[:50], b[:50])  # warm up (lazy imports, thread pools)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = est.align(a, b)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert res.plan.shape[0] >= 2000
    print((after - before) / 1024)
""")


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB on Linux")
@pytest.mark.parametrize("method", ["vava", "lac"])
def test_align_of_two_2000_frame_videos_under_1_gb(method):
    # before: the N x M x D difference tensor took 8.4 GB (RSS growth 7.8 GB)
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, method],
                         capture_output=True, text=True, timeout=600, check=True)
    growth_mib = float(out.stdout.strip().splitlines()[-1])
    assert growth_mib < 1000, f"{method} align grew the peak RSS by {growth_mib:.0f} MiB"


# ------------------------------------------------- item 9: one video, not a list
def test_list_of_lists_is_one_video(vava, videos):
    rows = videos[0].tolist()
    assert is_single_video(rows) and is_single_video(tuple(map(tuple, rows)))
    emb = vava.transform(rows)  # before: read as 20 videos of one frame each
    assert isinstance(emb, np.ndarray) and emb.shape == (20, 8)
    np.testing.assert_allclose(emb, vava.transform(videos[0]), atol=1e-6)
    with pytest.raises(ValueError, match=r"^videos must be a list of videos .* got a single list"):
        check_video_list(rows)


def test_object_array_of_numbers_is_one_video(vava, videos):
    obj = videos[0].astype(object)
    assert obj.dtype == object and is_single_video(obj)
    emb = vava.transform(obj)  # before: read as a list of 1-D videos
    assert isinstance(emb, np.ndarray) and emb.shape == (20, 8)
    np.testing.assert_allclose(emb, vava.transform(videos[0]), atol=1e-6)
    with pytest.raises(ValueError, match=r"got a single ndarray"):
        check_video_list(obj)


def test_lists_of_videos_stay_lists(videos):
    assert not is_single_video(list(videos))
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = videos[0], videos[1]
    assert not is_single_video(ragged)
    assert not is_single_video(["a.npy", "b.npy"]) and not is_single_video([])
    assert len(check_video_list(ragged)) == 2


@pytest.mark.parametrize(
    "cost, match",
    [
        ("abc", r"^cost must be a numeric array .*got the str 'abc'\.$"),
        ([["a", "b"], ["c", "d"]], r"^cost must be a numeric array .*got a list of dtype <U1 \(first value 'a'\)\.$"),
        (np.array([["1", "2"]]), r"^cost must be a numeric array .*got a ndarray of dtype <U1"),
        ([[1.0, 2.0], [3.0]], r"^cost must be a numeric array .*got a list that is not one"),
    ],
)
def test_string_cost_names_the_argument(cost, match):
    # before: numpy's bare "could not convert string to float: np.str_('abc')"
    with pytest.raises(ValueError, match=match):
        sinkhorn(cost, epsilon=0.1)
