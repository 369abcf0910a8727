"""Device resolution and mixed precision (CUDA only)."""

import pytest
import torch

from skalign.encoders import MLPEncoder
from skalign.engine import Precision, Trainer, resolve_device, resolve_precision


def test_auto_device_is_cuda_exactly_when_available():
    dev = resolve_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("gpu0")
    with pytest.raises(ValueError, match="not supported"):
        resolve_device("meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_cuda_request_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")


def test_precision_is_float32_on_cpu():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == Precision("32", None, False)
    assert resolve_precision("32", cpu).autocast_dtype is None
    for name in ("bf16", "fp16"):
        with pytest.raises(ValueError, match="needs a CUDA device"):
            resolve_precision(name, cpu)
    with pytest.raises(ValueError, match="precision must be"):
        resolve_precision("fp8", cpu)


def test_cpu_training_runs_in_float32():
    dtypes = []

    def loss_fn(model, batch):
        h = model.net(batch.x.frames)
        dtypes.append(h.dtype)
        return h.pow(2).mean()

    g = torch.Generator().manual_seed(0)
    videos = [torch.randn(8, 4, generator=g) for _ in range(2)]
    t = Trainer(max_epochs=1, batch_size=1, n_frames=4, device="auto" if not torch.cuda.is_available()
                else "cpu", random_state=0).fit(MLPEncoder(4, 2), videos, loss_fn)
    assert t.device_ == torch.device("cpu") and t.precision_.name == "32"
    assert set(dtypes) == {torch.float32} and t.scaler_ is None


@pytest.mark.cuda
@pytest.mark.parametrize("precision", ["bf16", "fp16", "auto"])
def test_mixed_precision_on_cuda(precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("no bfloat16 on this GPU")
    dtypes = []
    g = torch.Generator().manual_seed(0)
    A = torch.randn(3, 4, generator=g).cuda()

    def loss_fn(model, batch):
        h = model(batch.frames)
        dtypes.append(h.dtype)
        return ((h.float() - batch.frames @ A.T) ** 2).mean()

    videos = [torch.randn(40, 4, generator=g) for _ in range(3)]
    model = MLPEncoder(4, 3, hidden_sizes=(), normalize=False)
    t = Trainer(max_epochs=80, batch_size=3, n_frames=16, pairs=False, lr=0.05, device="auto",
                precision=precision, random_state=0).fit(model, videos, loss_fn)
    want = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(
        precision, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    assert t.device_.type == "cuda"
    assert set(dtypes) == {want}
    assert (t.scaler_ is not None) == (want == torch.float16)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert t.history_[-1]["loss"] < 0.05 * t.history_[0]["loss"]
