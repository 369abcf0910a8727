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
