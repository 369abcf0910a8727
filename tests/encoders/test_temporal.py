"""TemporalHead / TemporalEmbedder: context frames, head maths, masks, frozen backbones."""

import pytest
import torch
import torch.nn.functional as F

from skalign.encoders import MobileNetV2Backbone, TemporalEmbedder, TemporalHead, sinusoidal_encoding
from skalign.engine import Trainer, cache_features, embed_videos, gather_frames


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_context_offsets_and_gather_clamp_at_first_frame():
    head = TemporalHead(4, spatial=False, n_context=3, context_stride=4,
                        conv_channels=(4,), fc_sizes=(4,), embedding_dim=2)
    assert head.context_offsets == (-8, -4, 0)
    video = torch.arange(20.0)[:, None]
    got = gather_frames(video, torch.tensor([0, 5, 19]), head.context_offsets)[..., 0]
    assert got.tolist() == [[0, 0, 0], [0, 1, 5], [11, 15, 19]]


def test_vector_head_equals_functional_reference():
    g = _gen(0)
    head = TemporalHead(6, spatial=False, n_context=2, context_stride=3, embedding_dim=4,
                        conv_channels=(5,), fc_sizes=(), dropout=0.0).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        bn = head.temporal_conv[1]
        bn.running_mean.copy_(torch.randn(5, generator=g))
        bn.running_var.copy_(torch.rand(5, generator=g) + 0.5)
    x = torch.randn(2, 7, 2, 6, generator=g)
    conv, proj = head.temporal_conv[0], head.proj
    f = x.reshape(14, 2, 6).transpose(1, 2)                       # (N, channels, C)
    f = F.conv1d(f, conv.weight, conv.bias, padding=1)
    f = (f - bn.running_mean[:, None]) / torch.sqrt(bn.running_var[:, None] + bn.eps)
    f = torch.relu(f * bn.weight[:, None] + bn.bias[:, None]).amax(dim=2)
    z = f @ proj.weight.T + proj.bias
    expected = (z / z.norm(dim=-1, keepdim=True)).reshape(2, 7, 4)
    with torch.no_grad():
        torch.testing.assert_close(head(x), expected)


def test_conv_head_embeds_each_frame_from_itself_and_its_context():
    g = _gen(1)
    head = TemporalHead(8, spatial=True, context_stride=2, embedding_dim=6,
                        conv_channels=(8, 8), fc_sizes=(8,)).eval()
    x = torch.randn(1, 5, 2, 8, 3, 3, generator=g)
    with torch.no_grad():
        z = head(x)
        alone = torch.cat([head(x[:, t : t + 1]) for t in range(5)], dim=1)
        torch.testing.assert_close(z, alone, atol=1e-5, rtol=1e-5)
        x2 = x.clone()
        x2[0, 2, 0] += 1.0                     # change the context frame of output frame 2
        z2 = head(x2)
    assert not torch.allclose(z2[0, 2], z[0, 2])
    torch.testing.assert_close(z2[0, [0, 1, 3, 4]], z[0, [0, 1, 3, 4]])
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(1, 5))


def test_transformer_head_mask_hides_padding():
    g = _gen(2)
    head = TemporalHead(8, spatial=False, n_context=2, context_stride=1, embedding_dim=4,
                        conv_channels=(8,), fc_sizes=(16,), head="transformer", n_heads=2,
                        n_layers=1, dim_feedforward=16).eval()
    assert head.sequence_level
    real = torch.randn(1, 5, 2, 8, generator=g)
    padded = torch.cat([real, torch.randn(1, 3, 2, 8, generator=g)], dim=1)
    mask = torch.tensor([[True] * 5 + [False] * 3])
    with torch.no_grad():
        z_real = head(real)
        torch.testing.assert_close(head(padded, mask)[:, :5], z_real, atol=1e-5, rtol=1e-5)
        # without the mask the padding is attended to and changes the result
        assert not torch.allclose(head(padded)[:, :5], z_real, atol=1e-4)
        # the embedding of a frame depends on the other frames (sequence level)
        other = real.clone()
        other[0, 4] += 1.0
        assert not torch.allclose(head(other)[0, 0], z_real[0, 0], atol=1e-5)


def test_sinusoidal_encoding_formula():
    pos = torch.tensor([0.0, 1.0, 7.0])
    enc = sinusoidal_encoding(pos, 6)
    i = torch.arange(3, dtype=torch.float32)
    angle = pos[:, None] / 10000 ** (2 * i / 6)
    torch.testing.assert_close(enc[:, 0::2], torch.sin(angle))
    torch.testing.assert_close(enc[:, 1::2], torch.cos(angle))


def _small_embedder(**kw):
    return TemporalEmbedder(MobileNetV2Backbone(n_blocks=4), context_stride=2, embedding_dim=8,
                            conv_channels=(16,), fc_sizes=(16,), dropout=0.0, **kw)


def test_embedder_equals_head_on_cached_backbone_features():
    g = _gen(3)
    emb = _small_embedder()
    videos = [torch.randint(0, 256, (n, 32, 32, 3), generator=g, dtype=torch.uint8) for n in (6, 9)]
    emb.eval()
    with torch.no_grad():   # the module itself on every frame with its context
        direct = [emb(gather_frames(v, torch.arange(len(v)), emb.context_offsets)[None])[0] for v in videos]
    for a, b in zip(direct, embed_videos(emb, videos, batch_size=4, device="cpu")):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    cached = cache_features(emb.backbone, videos, batch_size=5, device="cpu")
    assert cached[1].shape == (9, emb.backbone.out_channels, 8, 8)  # stride 4
    via_cache = embed_videos(emb.head, cached, batch_size=3, device="cpu")
    for a, b in zip(direct, via_cache):
        assert a.shape[1] == 8
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_pretrained_backbone_is_frozen_by_default(tmp_path):
    torch.save(MobileNetV2Backbone(n_blocks=4).state_dict(), tmp_path / "w.pth")
    pre = TemporalEmbedder(MobileNetV2Backbone(tmp_path / "w.pth", n_blocks=4), context_stride=2,
                           embedding_dim=8, conv_channels=(16,), fc_sizes=(16,))
    assert pre.frozen_backbone
    assert not any(p.requires_grad for p in pre.backbone.parameters())
    pre.train()
    assert not pre.backbone.training and pre.head.training
    assert not _small_embedder().frozen_backbone        # random backbone trains by default
    assert not TemporalEmbedder(MobileNetV2Backbone(tmp_path / "w.pth", n_blocks=4),
                                freeze_backbone=False, conv_channels=(8,), fc_sizes=(8,)).frozen_backbone


def test_training_through_frozen_backbone_changes_only_the_head(tmp_path):
    torch.save(MobileNetV2Backbone(n_blocks=3).state_dict(), tmp_path / "w.pth")
    emb = TemporalEmbedder(MobileNetV2Backbone(tmp_path / "w.pth", n_blocks=3), context_stride=1,
                           embedding_dim=4, conv_channels=(8,), fc_sizes=(8,), dropout=0.0)
    before = {k: v.clone() for k, v in emb.state_dict().items()}
    g = _gen(4)
    videos = [torch.randint(0, 256, (8, 32, 32, 3), generator=g, dtype=torch.uint8) for _ in range(3)]

    def loss_fn(model, batch):   # pull the embeddings of the first frames together
        z = model(batch.frames)
        return -(z[:, :, 0]).mean()

    Trainer(max_epochs=2, batch_size=2, n_frames=4, pairs=False, lr=1e-2, device="cpu",
            random_state=0).fit(emb, videos, loss_fn)
    after = emb.state_dict()
    for k, v in before.items():
        if k.startswith("backbone."):
            assert torch.equal(after[k], v), k      # weights and batch-norm statistics
    assert any(not torch.equal(after[k], v) for k, v in before.items() if k.startswith("head."))


def test_embedder_without_backbone_and_input_errors():
    emb = TemporalEmbedder(None, in_channels=5, context_stride=3, embedding_dim=4,
                           conv_channels=(6,), fc_sizes=(6,))
    assert not emb.head.spatial
    assert emb(torch.randn(2, 4, 2, 5)).shape == (2, 4, 4)
    with pytest.raises(ValueError, match="C=2"):
        emb(torch.randn(2, 4, 3, 5))
    with pytest.raises(ValueError, match="in_channels is required"):
        TemporalEmbedder(torch.nn.Identity())
    with pytest.raises(ValueError, match="head must be"):
        TemporalHead(4, head="lstm")
    with pytest.raises(ValueError, match="n_heads"):
        TemporalHead(4, fc_sizes=(10,), head="transformer", n_heads=4)


def test_half_precision_cache_feeds_a_float32_head():
    g = _gen(5)
    head = TemporalHead(6, spatial=False, context_stride=1, embedding_dim=4, conv_channels=(6,),
                        fc_sizes=(6,), dropout=0.0)
    video = torch.randn(10, 6, generator=g)
    (full,) = embed_videos(head, [video], device="cpu")
    (half,) = embed_videos(head, [video.half()], device="cpu")
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, full, atol=5e-3, rtol=0)
