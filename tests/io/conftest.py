"""Fixtures for the io tests: small clips written with PyAV."""

from __future__ import annotations

import numpy as np
import pytest

from skalign.io import write_video


def smooth_frames(n_frames: int, height: int, width: int) -> np.ndarray:
    """Frames of smooth gradients that move a little each frame.

    Smooth content survives yuv420p chroma subsampling and lossy coding
    with small errors, so decoded frames can be compared with the source.
    """
    t = np.arange(n_frames, dtype=np.float64)[:, None, None]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 128 + 90 * np.sin(2 * np.pi * (xx / width + t / n_frames))
    g = 128 + 90 * np.cos(2 * np.pi * (yy / height - t / (2 * n_frames)))
    b = np.broadcast_to(40 + 160 * t / max(n_frames - 1, 1), r.shape)
    return np.clip(np.rint(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


def level_frames(n_frames: int, height: int = 16, width: int = 16) -> np.ndarray:
    """Uniform frames whose grey level is 8 * index: each frame identifiable."""
    levels = (np.arange(n_frames) * 8 % 256).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (n_frames, height, width, 3)).copy()


@pytest.fixture
def make_smooth():
    return smooth_frames


@pytest.fixture
def make_levels():
    return level_frames


@pytest.fixture(params=["h264", "mpeg4"])
def level_clip(request, tmp_path):
    """30 identifiable frames at 30 fps, written with each codec: (path, frames)."""
    frames = level_frames(30, 16, 16)
    path = write_video(tmp_path / f"levels_{request.param}.mp4", frames, 30, codec=request.param)
    return path, frames
