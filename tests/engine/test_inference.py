"""Whole-video helpers: the backbone feature cache and embedding of every frame."""

import numpy as np
import pytest
import torch

from skalign.encoders import MLPEncoder, TemporalHead
from skalign.engine import cache_features, embed_videos, gather_frames


def test_cache_features_applies_the_module_to_every_frame():
    g = torch.Generator().manual_seed(0)
    lin = torch.nn.Linear(3, 5)
    videos = [torch.randn(n, 3, generator=g) for n in (1, 7, 20)]
    cached = cache_features(lin, videos, batch_size=4, device="cpu", dtype=torch.float16)
    for v, f in zip(videos, cached):
        assert f.dtype == torch.float16 and f.device.type == "cpu"
        torch.testing.assert_close(f, lin(v).detach().half())
        assert not f.requires_grad


def test_embed_videos_chunks_equal_one_pass_and_restore_mode():
    enc = MLPEncoder(3, 4, dropout=0.5)            # dropout must be off in eval
    enc.train()
    rng = np.random.default_rng(0)
    videos = [rng.standard_normal((n, 3)).astype(np.float32) for n in (5, 13)]
    a = embed_videos(enc, videos, batch_size=3, device="cpu")
    b = embed_videos(enc, videos, batch_size=100, device="cpu")
    assert enc.training and all(m.training for m in enc.modules())
    for v, x, y in zip(videos, a, b):
        enc.eval()
        with torch.no_grad():
            expected = enc(torch.from_numpy(v))
        enc.train()
        torch.testing.assert_close(x, expected)
        torch.testing.assert_close(y, expected)


def test_embed_videos_uses_context_and_whole_sequences():
    g = torch.Generator().manual_seed(2)
    head = TemporalHead(4, spatial=False, context_stride=2, embedding_dim=3, conv_channels=(4,),
                        fc_sizes=(8,), head="transformer", n_heads=2, n_layers=1, dim_feedforward=8)
    video = torch.randn(11, 4, generator=g)
    (z,) = embed_videos(head, [video], batch_size=2, device="cpu")   # batch_size ignored: sequence level
    head.eval()
    with torch.no_grad():
        expected = head(gather_frames(video, torch.arange(11), (-2, 0))[None])[0]
    torch.testing.assert_close(z, expected)


def test_inference_errors():
    with pytest.raises(ValueError, match="video 1 has no frames"):
        cache_features(torch.nn.Identity(), [torch.zeros(2, 3), torch.zeros(0, 3)], device="cpu")
    with pytest.raises(ValueError, match="batch_size"):
        embed_videos(torch.nn.Identity(), [torch.zeros(2, 3)], batch_size=0, device="cpu")
