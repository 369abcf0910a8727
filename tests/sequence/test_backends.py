"""The compiled (numba) and pure-torch kernels agree; the package works without numba."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from tslearn.metrics import SoftDTW

from skalign import _backend
from skalign.sequence import dtw, expected_alignment, smith_waterman, smooth_dtw, soft_dtw
from skalign.sequence._common import resolve_backend

HAS_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed")


def _all(matrix, backend, go, ge):
    return [
        dtw(matrix, backend=backend),
        soft_dtw(matrix, gamma=0.4, backend=backend),
        smooth_dtw(matrix, gamma=0.2, backend=backend),
        smith_waterman(matrix, go, ge, gamma=0.6, backend=backend),
    ]


@needs_numba
def test_numba_and_torch_agree_values_and_gradients():
    rng = np.random.default_rng(60)
    matrix = rng.uniform(-1, 2, size=(3, 17, 23))
    go, ge = rng.uniform(0.5, 1.0, size=(17, 23)), rng.uniform(0.1, 0.3, size=(17, 23))
    grads = {}
    for backend in ("numba", "torch"):
        t = torch.tensor(matrix, requires_grad=True)
        out = _all(t, backend, go, ge)
        total = sum(r.value.sum() + torch.tanh(r.accumulated).sum() for r in out)
        total.backward()
        grads[backend] = (t.grad, [r.value.detach() for r in out], [r.accumulated.detach() for r in out])
    torch.testing.assert_close(grads["numba"][0], grads["torch"][0], rtol=1e-11, atol=1e-12)
    for a, b in zip(grads["numba"][1], grads["torch"][1]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads["numba"][2], grads["torch"][2]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_auto_picks_torch_without_numba(monkeypatch):
    monkeypatch.setitem(_backend._loaded, _backend.SEQUENCE_KERNELS, None)
    assert resolve_backend("auto", torch.device("cpu")) == "torch"
    with pytest.raises(ImportError, match="numba"):
        soft_dtw(np.ones((2, 2)), backend="numba")
    rng = np.random.default_rng(61)
    cost = rng.uniform(size=(5, 6))
    assert soft_dtw(cost, gamma=0.5).value == pytest.approx(SoftDTW(cost, gamma=0.5).compute(), rel=1e-12)


@needs_numba
def test_auto_picks_numba_on_cpu():
    assert resolve_backend("auto", torch.device("cpu")) == "numba"


def test_package_runs_when_numba_cannot_be_imported():
    """A fresh interpreter where ``import numba`` fails: everything runs on torch kernels."""
    code = """
import sys, json
sys.modules["numba"] = None  # makes `import numba` raise ImportError
import numpy as np
from skalign.sequence import _common, dtw, soft_dtw, smooth_dtw, smith_waterman, expected_alignment
rng = np.random.default_rng(62)
c = rng.uniform(size=(2, 5, 6))
out = {
    "dtw": dtw(c).value.tolist(),
    "soft": soft_dtw(c, gamma=0.5).value.tolist(),
    "smooth": smooth_dtw(c, gamma=0.5).value.tolist(),
    "sw": smith_waterman(c, 1.0, 0.5, gamma=0.5).value.tolist(),
    "align": expected_alignment(c, gamma=0.5).tolist(),
    "kernels": repr(_common.numba_kernels()),
    "numba_loaded": "skalign.sequence._kernels_numba" in sys.modules,
}
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["kernels"] == "None" and out["numba_loaded"] is False
    c = np.random.default_rng(62).uniform(size=(2, 5, 6))
    np.testing.assert_allclose(out["dtw"], dtw(c, backend="torch").value, rtol=1e-12)
    np.testing.assert_allclose(out["soft"], soft_dtw(c, gamma=0.5, backend="torch").value, rtol=1e-12)
    np.testing.assert_allclose(out["smooth"], smooth_dtw(c, gamma=0.5, backend="torch").value, rtol=1e-12)
    np.testing.assert_allclose(out["sw"], smith_waterman(c, 1.0, 0.5, gamma=0.5, backend="torch").value, rtol=1e-12)
    np.testing.assert_allclose(out["align"], expected_alignment(c, gamma=0.5, backend="torch"), rtol=1e-12)
    for b in range(2):  # and right, not only self-consistent
        ref = SoftDTW(c[b], gamma=0.5)
        assert out["soft"][b] == pytest.approx(ref.compute(), rel=1e-12)
        np.testing.assert_allclose(out["align"][b], ref.grad(), rtol=1e-10, atol=1e-12)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dtype):
    rng = np.random.default_rng(63)
    matrix = rng.uniform(0, 2, size=(3, 40, 33))
    go, ge = 1.0, 0.25
    cpu = _all(torch.tensor(matrix), "torch", go, ge)
    t = torch.tensor(matrix, dtype=dtype, device="cuda", requires_grad=True)
    gpu = _all(t, "auto", go, ge)
    sum(r.value.sum() for r in gpu).backward()
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    for a, b in zip(gpu, cpu):
        assert a.value.device.type == "cuda" and a.value.dtype == dtype
        torch.testing.assert_close(a.value.cpu().double(), b.value, rtol=tol, atol=tol)
    assert t.grad.device.type == "cuda" and torch.isfinite(t.grad).all()
    e = expected_alignment(torch.tensor(matrix, device="cuda"), gamma=0.4)
    torch.testing.assert_close(e.cpu(), torch.as_tensor(expected_alignment(matrix, gamma=0.4, backend="torch")),
                               rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="CPU tensors only"):
        soft_dtw(t, backend="numba")
