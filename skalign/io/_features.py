"""Reading and writing per-frame feature files (``.npy`` and ``.txt``)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

__all__ = ["read_features", "write_features", "FEATURE_SUFFIXES"]

#: File suffixes read as per-frame features rather than decoded as video.
FEATURE_SUFFIXES = (".npy", ".txt")


def read_features(
    path: str | os.PathLike, *, transpose: bool = False, mmap: bool = False
) -> np.ndarray:
    """Read per-frame features, one frame a row.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npy`` file (NumPy's format, read without pickle) or a ``.txt``
        file of whitespace-separated numbers, one frame a line (the layout of
        the Breakfast, YouTube Instructions and Desktop Assembly features
        used by unsupervised action segmentation).
    transpose : bool, default=False
        The file stores one frame a *column* (as MS-TCN's I3D ``.npy``
        features do, shape ``(2048, n_frames)``); return the transpose. A
        file alone cannot tell the two layouts apart, so this is never
        guessed; :func:`skalign.datasets.load_action_segmentation` decides
        it from the number of ground-truth labels.
    mmap : bool, default=False
        Memory-map a ``.npy`` file instead of reading it (for reading a few
        frames of a large file). Ignored for ``.txt``.

    Returns
    -------
    features : ndarray of shape (n_frames, n_features)
        A file holding a 1-D array gives one feature a frame,
        ``(n_frames, 1)``. ``.txt`` files are read as float64; ``.npy``
        keeps its dtype.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the suffix is not ``.npy`` or ``.txt``, the file cannot be parsed,
        holds no frame, or is not a 1-D or 2-D numeric array.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from skalign.io import read_features, write_features
    >>> x = np.arange(12.0).reshape(4, 3)
    >>> path = write_features(os.path.join(tempfile.mkdtemp(), "v.txt"), x)
    >>> read_features(path).shape
    (4, 3)
    >>> bool(np.array_equal(read_features(path), x))
    True
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FEATURE_SUFFIXES:
        raise ValueError(
            f"{path}: feature files must end in {' or '.join(FEATURE_SUFFIXES)}, "
            f"got {path.suffix!r}."
        )
    if not path.exists():
        raise FileNotFoundError(f"feature file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a feature file.")
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
        else:
            with warnings.catch_warnings():
                # An empty file is reported below as an error.
                warnings.simplefilter("ignore", UserWarning)
                arr = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path} could not be read as features: {err}") from err
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{path} does not hold a single array.")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{path} holds dtype {arr.dtype}, not numbers.")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(
            f"{path} holds an array of shape {arr.shape}; features must be "
            "2-D (n_frames, n_features)."
        )
    if transpose:
        arr = arr.T
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{path} holds no frame (array of shape {arr.shape}).")
    return arr


def write_features(path: str | os.PathLike, features: np.ndarray) -> Path:
    """Write per-frame features, one frame a row.

    Parameters
    ----------
    path : str or os.PathLike
        Output ``.npy`` (exact) or ``.txt`` (18 significant digits, so
        float64 values read back exactly).
    features : array-like of shape (n_frames, n_features)
        The features.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from skalign.io import write_features
    >>> write_features(os.path.join(tempfile.mkdtemp(), "v.npy"), np.ones((3, 2))).suffix
    '.npy'
    """
    path = Path(path)
    arr = np.asarray(features)
    if arr.ndim != 2:
        raise ValueError(
            f"features must be 2-D (n_frames, n_features), got shape {arr.shape}."
        )
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"features must be numeric, got dtype {arr.dtype}.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, arr, allow_pickle=False)
    elif suffix == ".txt":
        fmt = "%d" if arr.dtype.kind in "biu" else "%.18e"
        np.savetxt(path, arr, fmt=fmt)
    else:
        raise ValueError(
            f"{path}: feature files must end in {' or '.join(FEATURE_SUFFIXES)}, "
            f"got {path.suffix!r}."
        )
    return path
