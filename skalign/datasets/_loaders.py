"""Loaders of the data layouts video alignment and segmentation use."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..io import (
    FEATURE_SUFFIXES,
    VideoCollection,
    load_video,
    read_features,
    write_features,
    write_video,
)

__all__ = [
    "load_action_segmentation",
    "load_mocap6",
    "load_phase_videos",
    "save_phase_videos",
    "read_mapping",
]

_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


def read_mapping(path: str | os.PathLike) -> dict[str, int]:
    """Read a class mapping file: one ``id name`` pair a line.

    Parameters
    ----------
    path : str or os.PathLike
        The file (``mapping.txt`` of the action-segmentation layout).

    Returns
    -------
    mapping : dict of str to int
        Class name to id, in file order.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If a line is not ``<int> <name>``, or a name or id appears twice.

    Examples
    --------
    >>> import tempfile, os
    >>> from skalign.datasets import read_mapping
    >>> path = os.path.join(tempfile.mkdtemp(), "mapping.txt")
    >>> _ = open(path, "w").write("0 SIL\\n1 pour_milk\\n")
    >>> read_mapping(path)
    {'SIL': 0, 'pour_milk': 1}
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mapping file not found: {path}")
    mapping: dict[str, int] = {}
    seen_ids: set[int] = set()
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split(maxsplit=1)
            if not parts:
                continue
            if len(parts) != 2:
                raise ValueError(
                    f"{path}, line {lineno}: expected '<id> <name>', got {line.strip()!r}."
                )
            try:
                cid = int(parts[0])
            except ValueError:
                raise ValueError(
                    f"{path}, line {lineno}: the id {parts[0]!r} is not an int."
                ) from None
            name = parts[1].strip()
            if name in mapping or cid in seen_ids:
                raise ValueError(
                    f"{path}, line {lineno}: class {name!r} or id {cid} appears twice."
                )
            mapping[name] = cid
            seen_ids.add(cid)
    if not mapping:
        raise ValueError(f"{path} holds no class.")
    return mapping


def _class_names(mapping: dict[str, int], source: Path) -> list[str]:
    by_id = {cid: name for name, cid in mapping.items() if cid >= 0}
    ids = sorted(by_id)
    if ids != list(range(len(ids))):
        raise ValueError(
            f"{source}: the non-negative class ids must be 0 .. n_classes - 1, got {ids}."
        )
    return [by_id[i] for i in ids]


def _read_label_names(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip()]


def _matches_activity(name: str, folder: str | None, activity: str) -> bool:
    if folder is not None:
        return folder == activity
    # Flat layouts name videos after their activity: Breakfast ends with it
    # (P03_cam01_P03_coffee), YouTube Instructions starts with it
    # (changing_tire_0001).
    return name.rsplit("_", 1)[-1] == activity or name.rsplit("_", 1)[0] == activity


def load_action_segmentation(
    root: str | os.PathLike,
    *,
    activity: str | Sequence[str] | None = None,
    mapping: str | os.PathLike | None = None,
) -> Bunch:
    """Load per-frame features and labels in the action-segmentation layout.

    The layout of Breakfast, 50 Salads, YouTube Instructions and Desktop
    Assembly as distributed for unsupervised action segmentation (CTE,
    TOT, ASOT)::

        root/
          features/[<activity>/]<video>.txt   one frame a row (or .npy)
          groundTruth/<video>                 one class name a line (or <video>.txt)
          mapping/mapping.txt                 "<id> <class name>" a line (or root/mapping.txt)

    Videos are those with a feature file; each must have a ground-truth
    file with one label a frame.

    Parameters
    ----------
    root : str or os.PathLike
        The data set's folder.
    activity : str or list of str, default=None
        Keep only these activities: the subfolder of ``features/``, or in a
        flat ``features/`` the video name's last ``_`` field (Breakfast,
        ``P03_cam01_P03_coffee``) or everything before it (YouTube
        Instructions, ``changing_tire_0001``). ``None`` keeps all videos.
    mapping : str or os.PathLike, default=None
        The mapping file, when not at ``root/mapping/mapping.txt`` or
        ``root/mapping.txt`` (e.g. 50 Salads' ``mappingeval.txt``).

    Returns
    -------
    data : sklearn.utils.Bunch
        ``features``: list of float arrays ``(n_frames, n_features)``;
        ``labels``: list of int64 arrays ``(n_frames,)``, the mapping's ids
        (background classes such as ``SIL`` keep their id; names mapped to
        a negative id give that id, and -1 marks frames to ignore);
        ``video_names``: list of str; ``activities``: list of str or None
        (the feature subfolder, or the matched activity);
        ``class_names``: list of str, ``class_names[id]``;
        ``mapping``: dict of class name to id; ``paths``: list of the
        feature files.

    Raises
    ------
    FileNotFoundError
        If ``root``, ``features/``, ``groundTruth/`` or the mapping file is
        missing.
    ValueError
        If no video matches, a ground-truth file is missing or holds a
        class the mapping lacks, or the number of labels matches neither
        the rows nor the columns of the features (a file storing one frame
        a column is transposed when its column count is the label count).

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from skalign.datasets import load_action_segmentation
    >>> root = tempfile.mkdtemp()
    >>> for sub in ("features/tea", "groundTruth", "mapping"):
    ...     os.makedirs(os.path.join(root, sub))
    >>> np.savetxt(os.path.join(root, "features/tea/P01_tea.txt"), np.zeros((3, 4)))
    >>> with open(os.path.join(root, "groundTruth/P01_tea"), "w") as fh:
    ...     _ = fh.write("SIL\\ntake_cup\\ntake_cup\\n")
    >>> _ = open(os.path.join(root, "mapping/mapping.txt"), "w").write("0 SIL\\n1 take_cup\\n")
    >>> data = load_action_segmentation(root)
    >>> data.video_names, data.features[0].shape, data.labels[0].tolist(), data.class_names
    (['P01_tea'], (3, 4), [0, 1, 1], ['SIL', 'take_cup'])
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data set folder not found: {root}")
    feat_dir = root / "features"
    gt_dir = root / "groundTruth"
    for d in (feat_dir, gt_dir):
        if not d.is_dir():
            raise FileNotFoundError(f"{root} has no {d.name}/ folder.")
    if mapping is None:
        candidates = [root / "mapping" / "mapping.txt", root / "mapping.txt"]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise FileNotFoundError(f"{root} has no mapping/mapping.txt nor mapping.txt.")
        mapping_path = found[0]
    else:
        mapping_path = Path(mapping)
    class_map = read_mapping(mapping_path)
    class_names = _class_names(class_map, mapping_path)

    entries: dict[str, tuple[Path, str | None]] = {}
    for path in sorted(feat_dir.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in FEATURE_SUFFIXES:
            continue
        if any(part.startswith(".") for part in path.relative_to(feat_dir).parts):
            continue
        rel = path.relative_to(feat_dir)
        folder = rel.parts[0] if len(rel.parts) > 1 else None
        name = path.stem
        if name in entries:
            raise ValueError(
                f"two feature files for video {name!r}: {entries[name][0]} and {path}."
            )
        entries[name] = (path, folder)
    if not entries:
        raise ValueError(f"{feat_dir} holds no .npy or .txt feature file.")

    wanted = [activity] if isinstance(activity, str) else activity
    selected = []
    for name, (path, folder) in sorted(entries.items(), key=lambda kv: (kv[1][1] or "", kv[0])):
        if wanted is None:
            selected.append((name, path, folder))
            continue
        match = next((a for a in wanted if _matches_activity(name, folder, a)), None)
        if match is not None:
            selected.append((name, path, match))
    if not selected:
        folders = sorted({f for _, f in entries.values() if f is not None})
        raise ValueError(
            f"no video of activity {activity!r} in {feat_dir}"
            + (f"; its activity folders are {folders}." if folders else ".")
        )

    data = Bunch(
        features=[], labels=[], video_names=[], activities=[], paths=[],
        class_names=class_names, mapping=dict(class_map),
    )
    for name, path, folder in selected:
        gt_path = next(
            (p for p in (gt_dir / name, gt_dir / f"{name}.txt") if p.is_file()), None
        )
        if gt_path is None:
            raise ValueError(f"video {name!r} ({path}) has no ground-truth file in {gt_dir}.")
        names = _read_label_names(gt_path)
        try:
            labels = np.array([class_map[n] for n in names], dtype=np.int64)
        except KeyError as err:
            raise ValueError(
                f"{gt_path} holds the class {err.args[0]!r}, which {mapping_path} lacks."
            ) from None
        feats = read_features(path)
        n = len(labels)
        if feats.shape[0] != n:
            if feats.shape[1] == n:
                feats = np.ascontiguousarray(feats.T)
            else:
                raise ValueError(
                    f"video {name!r}: {path} holds {feats.shape[0]} frames "
                    f"(array {feats.shape}) but {gt_path} has {n} labels."
                )
        data.features.append(feats)
        data.labels.append(labels)
        data.video_names.append(name)
        data.activities.append(folder)
        data.paths.append(path)
    return data


def load_mocap6(path: str | os.PathLike) -> Bunch:
    """Load the six CMU motion-capture exercise sequences.

    The data set of Fox, Hughes, Sudderth and Jordan (2014): subjects 13
    and 14 of the CMU Motion Capture Database doing 12 exercises (jumping
    jacks, jogging, squats, ...) in different orders, 12 joint-angle
    channels at 10 frames a second, one exercise label a frame.

    Parameters
    ----------
    path : str or os.PathLike
        The ``dataset.npz`` file, or the folder holding it. The archive has
        ``X`` (all frames, stacked), ``TrueZ`` (1-based labels),
        ``doc_range`` (sequence boundaries) and optionally
        ``true_state_names`` and ``column_names``. A
        ``metadata_per_seq.csv`` beside it names the sequences.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``features``: list of 6 float64 arrays ``(n_frames, 12)``;
        ``labels``: list of int64 arrays, **0-based** (``TrueZ - 1``);
        ``class_names``: the 12 exercise names, ``class_names[label]``;
        ``channel_names``; ``video_names`` (CMU ``subject_trial``, e.g.
        ``"13_29"``, or ``"sequence_<i>"`` without the csv); ``fps``: 10.

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        If the archive lacks a key or its boundaries or labels are
        inconsistent.

    References
    ----------
    .. [1] Fox, E. B., Hughes, M. C., Sudderth, E. B., Jordan, M. I. "Joint
       Modeling of Multiple Time Series via the Beta Process with
       Application to Motion Capture Segmentation." Annals of Applied
       Statistics 8(3), 2014.

    Examples
    --------
    >>> import tempfile, os
    >>> import numpy as np
    >>> from skalign.datasets import load_mocap6
    >>> path = os.path.join(tempfile.mkdtemp(), "dataset.npz")
    >>> np.savez(path, X=np.zeros((5, 2)), TrueZ=np.array([1, 1, 2, 2, 1]),
    ...          doc_range=np.array([0, 3, 5]))
    >>> data = load_mocap6(path)
    >>> [x.shape for x in data.features], [y.tolist() for y in data.labels]
    ([(3, 2), (2, 2)], [[0, 0, 1], [1, 0]])
    """
    path = Path(path)
    if path.is_dir():
        path = path / "dataset.npz"
    if not path.is_file():
        raise FileNotFoundError(f"mocap6 archive not found: {path}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path} could not be read as an .npz archive: {err}") from err
    with archive:
        missing = [k for k in ("X", "TrueZ", "doc_range") if k not in archive.files]
        if missing:
            raise ValueError(f"{path} lacks the array(s) {missing}.")
        X = np.asarray(archive["X"], dtype=np.float64)
        z = np.asarray(archive["TrueZ"]).astype(np.int64).ravel()
        bounds = np.asarray(archive["doc_range"]).astype(np.int64).ravel()
        state_names = (
            [_text(s) for s in archive["true_state_names"]]
            if "true_state_names" in archive.files else None
        )
        channels = (
            [_text(s) for s in archive["column_names"]]
            if "column_names" in archive.files else None
        )
    if X.ndim != 2 or len(z) != len(X):
        raise ValueError(
            f"{path}: X must be 2-D with one label in TrueZ a row, got X {X.shape} "
            f"and TrueZ {z.shape}."
        )
    if len(bounds) < 2 or bounds[0] != 0 or bounds[-1] != len(X) or np.any(np.diff(bounds) <= 0):
        raise ValueError(
            f"{path}: doc_range must rise strictly from 0 to {len(X)}, got {bounds.tolist()}."
        )
    n_states = len(state_names) if state_names is not None else int(z.max())
    if z.min() < 1 or z.max() > n_states:
        raise ValueError(f"{path}: TrueZ must hold 1-based labels in 1..{n_states}.")
    labels = z - 1
    names = None
    meta = path.parent / "metadata_per_seq.csv"
    if meta.is_file():
        with open(meta, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        if len(rows) == len(bounds) - 1 and all("file_name" in r for r in rows):
            names = [r["file_name"] for r in rows]
    if names is None:
        names = [f"sequence_{i}" for i in range(len(bounds) - 1)]
    return Bunch(
        features=[X[a:b].copy() for a, b in zip(bounds[:-1], bounds[1:])],
        labels=[labels[a:b].copy() for a, b in zip(bounds[:-1], bounds[1:])],
        class_names=state_names if state_names is not None else [str(i) for i in range(n_states)],
        channel_names=channels,
        video_names=names,
        fps=10.0,
    )


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _read_label_file(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        arr = np.load(path, allow_pickle=False)
    else:
        try:
            arr = np.loadtxt(path, dtype=np.int64, ndmin=1)
        except ValueError as err:
            raise ValueError(f"{path} must hold one integer label a line: {err}") from err
    arr = np.asarray(arr)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(
            f"{path} must hold a 1-D array of int labels, got {arr.dtype} {arr.shape}."
        )
    return arr.astype(np.int64)


def load_phase_videos(
    root: str | os.PathLike,
    *,
    size: int | tuple[int, int] | None = None,
    lazy: bool = True,
) -> Bunch:
    """Load a folder of videos with per-frame phase labels.

    The layout, as :func:`save_phase_videos` writes it, and as Pouring or
    Penn Action videos look once their frames are encoded as videos and
    their phase annotations written one label a frame::

        root/
          videos/<name>.mp4       any video FFmpeg reads, or .npy / .txt features
          labels/<name>.txt       one int label a line, a line a frame (or <name>.npy)
          mapping.txt             optional: "<id> <phase name>" a line

    Label -1 marks frames that belong to no phase.

    Parameters
    ----------
    root : str or os.PathLike
        The folder.
    size : int or (int, int), default=None
        Resize decoded frames to ``(height, width)``.
    lazy : bool, default=True
        Give the videos as a :class:`skalign.io.VideoCollection`, read when
        used; label counts are then checked only against the frame count
        at read time by the user. ``False`` decodes every video now and
        checks that each has one label a frame.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``videos``: a VideoCollection (or a list of arrays when
        ``lazy=False``); ``labels``: list of int64 arrays;
        ``video_names``: list of str; ``paths``: list of the video files;
        ``class_names``: list of str from ``mapping.txt``, or None.

    Raises
    ------
    FileNotFoundError
        If ``root``, ``videos/`` or ``labels/`` is missing.
    ValueError
        If a video has no label file, a label file is malformed, or (with
        ``lazy=False``) a video's frame count differs from its label count.

    Examples
    --------
    >>> import tempfile
    >>> from skalign.datasets import make_process_videos, save_phase_videos, load_phase_videos
    >>> videos, labels = make_process_videos(
    ...     2, 3, kind="frames", n_frames=12, size=32, random_state=0)
    >>> root = tempfile.mkdtemp()
    >>> _ = save_phase_videos(root, videos, labels, fps=10)
    >>> data = load_phase_videos(root, lazy=False)
    >>> data.video_names, data.videos[0].shape, data.labels[0].tolist() == labels[0].tolist()
    (['video_000', 'video_001'], (12, 32, 32, 3), True)
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"folder not found: {root}")
    video_dir, label_dir = root / "videos", root / "labels"
    for d in (video_dir, label_dir):
        if not d.is_dir():
            raise FileNotFoundError(f"{root} has no {d.name}/ folder.")
    accepted = _VIDEO_SUFFIXES + FEATURE_SUFFIXES
    paths = sorted(
        p for p in video_dir.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in accepted
    )
    if not paths:
        raise ValueError(f"{video_dir} holds no video ({', '.join(accepted)}).")
    names = [p.stem for p in paths]
    if len(set(names)) != len(names):
        raise ValueError(f"{video_dir} holds two files with the same name and different suffixes.")
    labels = []
    for name, path in zip(names, paths):
        label_path = next(
            (q for q in (label_dir / f"{name}.txt", label_dir / f"{name}.npy") if q.is_file()),
            None,
        )
        if label_path is None:
            raise ValueError(f"video {name!r} ({path}) has no label file in {label_dir}.")
        labels.append(_read_label_file(label_path))
    class_names = None
    if (root / "mapping.txt").is_file():
        class_names = _class_names(read_mapping(root / "mapping.txt"), root / "mapping.txt")
    collection = VideoCollection(paths, size=size)
    if lazy:
        videos: object = collection
    else:
        videos = []
        for i, (name, y) in enumerate(zip(names, labels)):
            v = load_video(paths[i], name=f"video {name!r}", size=size)
            if len(v) != len(y):
                raise ValueError(
                    f"video {name!r} ({paths[i]}) has {len(v)} frames but {len(y)} labels."
                )
            videos.append(v)
    return Bunch(
        videos=videos, labels=labels, video_names=names, paths=paths, class_names=class_names
    )


def save_phase_videos(
    root: str | os.PathLike,
    videos: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    *,
    fps: float = 10,
    codec: str = "h264",
    names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> list[Path]:
    """Write videos and their per-frame labels in :func:`load_phase_videos`'s layout.

    Parameters
    ----------
    root : str or os.PathLike
        Output folder (created if needed).
    videos : list of ndarray
        uint8 frames ``(n_frames, height, width, 3)``, written as ``.mp4``
        with :func:`skalign.io.write_video`, or features
        ``(n_frames, n_features)``, written as ``.npy``.
    labels : list of array-like of int
        One label a frame for each video.
    fps : float, default=10
        Frame rate of the written videos.
    codec : {"h264", "mpeg4"}, default="h264"
        Video codec.
    names : list of str, default=None
        File names without suffix; ``video_000``, ``video_001``, ... by default.
    class_names : list of str, default=None
        Written to ``mapping.txt`` as ``<id> <name>``.

    Returns
    -------
    paths : list of pathlib.Path
        The written video (or feature) files.

    Examples
    --------
    >>> import tempfile
    >>> from skalign.datasets import make_process_videos, save_phase_videos
    >>> videos, labels = make_process_videos(2, 3, n_frames=10, random_state=0)
    >>> [p.name for p in save_phase_videos(tempfile.mkdtemp(), videos, labels)]
    ['video_000.npy', 'video_001.npy']
    """
    if len(videos) != len(labels):
        raise ValueError(f"got {len(videos)} videos but {len(labels)} label arrays.")
    if names is None:
        names = [f"video_{i:03d}" for i in range(len(videos))]
    if len(names) != len(videos):
        raise ValueError(f"got {len(names)} names for {len(videos)} videos.")
    root = Path(root)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    out = []
    for i, (video, y, name) in enumerate(zip(videos, labels, names)):
        arr = load_video(video, name=f"videos[{i}]")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(arr) or (y.size and y.dtype.kind not in "iu"):
            raise ValueError(
                f"labels[{i}] must be {len(arr)} int labels, one a frame of videos[{i}], "
                f"got dtype {y.dtype} and shape {y.shape}."
            )
        if arr.ndim == 4:
            path = write_video(root / "videos" / f"{name}.mp4", arr, fps, codec=codec)
        else:
            path = write_features(root / "videos" / f"{name}.npy", arr)
        np.savetxt(root / "labels" / f"{name}.txt", y.astype(np.int64), fmt="%d")
        out.append(path)
    if class_names is not None:
        with open(root / "mapping.txt", "w", encoding="utf-8") as fh:
            fh.writelines(f"{i} {n}\n" for i, n in enumerate(class_names))
    return out
