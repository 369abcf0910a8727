"""MLPEncoder and ConvEncoder: shapes, dtypes, normalisation, maths."""

import pytest
import torch
import torch.nn.functional as F

from skalign.encoders import ConvEncoder, MLPEncoder


def test_mlp_shapes_and_unit_norm():
    g = torch.Generator().manual_seed(0)
    enc = MLPEncoder(12, embedding_dim=5, hidden_sizes=(16, 8))
    x = torch.randn(3, 7, 12, generator=g)
    z = enc(x)
    assert z.shape == (3, 7, 5)
    assert z.dtype == torch.float32
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(3, 7))
    assert enc.context_offsets == (0,) and enc.sequence_level is False


def test_mlp_equals_hand_written_forward():
    g = torch.Generator().manual_seed(1)
    enc = MLPEncoder(6, embedding_dim=4, hidden_sizes=(10,), normalize=False)
    x = torch.randn(9, 6, generator=g)
    lin1, lin2 = enc.net[0], enc.net[2]
    expected = torch.clamp(x @ lin1.weight.T + lin1.bias, min=0) @ lin2.weight.T + lin2.bias
    torch.testing.assert_close(enc(x), expected)
    # the normalised encoder is the same map divided by its norm
    enc.normalize = True
    torch.testing.assert_close(enc(x), expected / expected.norm(dim=-1, keepdim=True))


def test_mlp_promotes_integer_input_and_rejects_wrong_size():
    enc = MLPEncoder(3, embedding_dim=2, hidden_sizes=())
    x = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(enc(x), enc(x.float()))
    torch.testing.assert_close(enc(x.double()), enc(x.float()))
    with pytest.raises(ValueError, match="size 3"):
        enc(torch.randn(4, 5))
    with pytest.raises(ValueError, match="n_features"):
        MLPEncoder(0)
    with pytest.raises(ValueError, match="dropout"):
        MLPEncoder(3, dropout=1.5)


def test_conv_encoder_shapes_norm_and_uint8_scaling():
    g = torch.Generator().manual_seed(2)
    enc = ConvEncoder(embedding_dim=8, channels=(8, 16, 16)).eval()
    frames = torch.randint(0, 256, (2, 3, 64, 64, 3), generator=g, dtype=torch.uint8)
    z = enc(frames)
    assert z.shape == (2, 3, 8) and z.dtype == torch.float32
    torch.testing.assert_close(z.norm(dim=-1), torch.ones(2, 3))
    # uint8 frames are the float frames in [0, 1] times 255
    torch.testing.assert_close(enc(frames.float() / 255.0), z, atol=1e-5, rtol=1e-5)


def test_conv_encoder_frames_are_independent_and_layout_matters():
    g = torch.Generator().manual_seed(3)
    enc = ConvEncoder(embedding_dim=6, channels=(8, 8), pool_size=2)
    frames = torch.randint(0, 256, (5, 32, 32, 3), generator=g, dtype=torch.uint8)
    together = enc(frames)
    alone = torch.cat([enc(frames[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
    # a blob on the left and the same blob on the right are told apart
    left = torch.zeros(1, 32, 32, 3, dtype=torch.uint8)
    right = left.clone()
    left[0, 12:20, 2:10] = 255
    right[0, 12:20, 22:30] = 255
    assert F.cosine_similarity(enc(left), enc(right)).item() < 0.999


def test_conv_encoder_rejects_bad_frames():
    enc = ConvEncoder(embedding_dim=4, channels=(4,))
    with pytest.raises(ValueError, match="channels last"):
        enc(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="uint8 or floating"):
        enc(torch.zeros(2, 32, 32, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match="channels"):
        ConvEncoder(channels=())


def test_conv_encoder_gradients_reach_every_parameter():
    enc = ConvEncoder(embedding_dim=4, channels=(4, 8))
    frames = torch.randint(0, 256, (2, 4, 32, 32, 3), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(4))
    enc(frames).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in enc.parameters())
