"""Shared fixtures: the real data sets beside the project, device helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data_path(*parts: str) -> Path:
    """Path under ``../shared/data``; skips the calling test when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not present: {path}")
    return path


@pytest.fixture
def shared_data():
    """The ``shared_data_path`` helper as a fixture."""
    return shared_data_path


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``cuda`` when no CUDA device is present."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def weights(tmp_path_factory):
    """A MobileNetV2 weights file with random weights (the ImageNet weights
    need a package; the tests of the feature path compare with the backbone
    run by hand, whatever its weights)."""
    from skalign.encoders import MobileNetV2Backbone

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "mobilenet.pth"
    torch.save(MobileNetV2Backbone().state_dict(), path)
    return str(path)


@pytest.fixture
def launch_ranks():
    """``launch_ranks(script, *args, n=2)``: run ``script`` as ``n`` gloo
    ranks on this machine, as torchrun would, and return their outputs
    (each must exit 0)."""
    import os
    import socket
    import subprocess
    import sys

    def launch(script, *args, n=2, timeout=300):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = str(s.getsockname()[1])
        procs = []
        for rank in range(n):
            env = dict(os.environ, WORLD_SIZE=str(n), RANK=str(rank), LOCAL_RANK=str(rank),
                       MASTER_ADDR="127.0.0.1", MASTER_PORT=port, OMP_NUM_THREADS="1")
            procs.append(subprocess.Popen([sys.executable, str(script), *map(str, args)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        outs = []
        for p in procs:
            out, _ = p.communicate(timeout=timeout)
            assert p.returncode == 0, out.decode()[-3000:]
            outs.append(out.decode())
        return outs

    return launch
