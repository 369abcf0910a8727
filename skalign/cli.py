"""The ``skalign`` command: ``demo``, ``features``, ``fit``, ``align``, ``segment`` and ``sync``.

Run ``skalign --help`` or ``python -m skalign --help``. Bad input ends with a
one-line error and exit status 2 (the traceback with ``--debug``).

Results go to standard output. Progress (the training engine's per-epoch
lines) and other messages go to standard error, through the ``"skalign"``
:mod:`logging` logger at level INFO; ``--quiet`` keeps only warnings and
errors, ``--verbose`` adds a per-step progress bar.

Outputs are safe: no command writes over one of its inputs, an existing
output is replaced only with ``--force``, every output location is checked
before any work starts, and every file is written atomically (a temporary
file in the same folder, then a rename). Ctrl-C ends a command with one
line, exit status 130 and no partial file. Models are written in the
``.skalign`` format (:mod:`skalign.persist`), which runs no code when
loaded; a pickle (``.joblib``) is read only with ``--trust-pickle``.

This module imports only the standard library at import time; numpy, torch
and the estimators load inside the subcommands, so ``skalign --help`` and
``skalign --version`` answer at once.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import glob
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

from skalign import __version__
from skalign._files import atomic_path
from skalign._files import same_file as _same_file

__all__ = ["build_parser", "main"]

logger = logging.getLogger("skalign")


class CommandError(Exception):
    """An error the user can act on: printed on one line, exit status 2."""


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # the base class sets it; always use sys.stderr
        pass


@contextlib.contextmanager
def _cli_logging(quiet: bool) -> Iterator[logging.Logger]:
    """Show the ``"skalign"`` logger's messages on stderr while a command runs.

    INFO and above by default, WARNING and above with ``--quiet``; the
    logger's previous level, handlers and propagation are restored after.
    """
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    old = (logger.level, logger.propagate)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old[0])
        logger.propagate = old[1]


class _Interrupt:
    """Ctrl-C, remembered: the handler raises KeyboardInterrupt as Python's
    does, and training also checks the flag after every step
    (:meth:`callback`), so an interrupt that lands where Python cannot raise
    it (a finalizer, a C callback) still ends the command at the next step."""

    def __init__(self) -> None:
        self.hit = False

    def _handler(self, signum: int, frame: object) -> None:
        self.hit = True
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def catching(self) -> Iterator[None]:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers belong to the main thread
            return
        self.hit = False
        previous = signal.signal(signal.SIGINT, self._handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def callback(self):  # type: ignore[no-untyped-def]
        """An engine callback that ends training at the first step after Ctrl-C."""
        from skalign.engine import Callback

        flag = self

        class _StopOnInterrupt(Callback):
            def on_batch_end(self, trainer, **kwargs):  # type: ignore[no-untyped-def]
                if flag.hit:
                    raise KeyboardInterrupt

        return _StopOnInterrupt()


_INTERRUPT = _Interrupt()


def _verbosity(args: argparse.Namespace) -> int:
    """The estimators' ``verbose``: 0 with --quiet, 2 with -v, else 1 (a line per epoch)."""
    if getattr(args, "quiet", False):
        return 0
    return 2 if getattr(args, "verbose", False) else 1


def _check_epochs(args: argparse.Namespace) -> None:
    """Refuse a number of epochs that would write an untrained model."""
    if args.epochs < 1:
        raise CommandError(f"--epochs must be a number of training epochs >= 1, got {args.epochs}")


#: Suffixes of pickle files, which the CLI neither writes nor reads unless told.
_PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def _check_output(path: str | Path, *, inputs: Sequence[str], force: bool, what: str) -> Path:
    """Refuse an output that is an input, a directory, in a missing or
    read-only folder, or that exists (unless ``force``). Run before any work."""
    p = Path(path)
    for inp in inputs:
        if _same_file(p, Path(inp)):
            raise CommandError(f"{what} {path} is the input {inp}; skalign never writes over its "
                               "inputs: choose another file name")
    if p.is_dir():
        raise CommandError(f"{what} {path} is a directory; give a file name")
    parent = p.parent
    if not parent.is_dir():
        raise CommandError(f"{what} {path}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CommandError(f"{what} {path}: the folder {parent} is not writable")
    if (p.exists() or p.is_symlink()) and not force:
        raise CommandError(f"{what} {path} exists; pass --force to replace it")
    return p


def _check_folder(path: str, what: str) -> Path:
    """A folder that exists, or that can be created (its nearest existing
    ancestor is a writable folder)."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise CommandError(f"{what} {path} is a file, not a folder")
        if not os.access(p, os.W_OK | os.X_OK):
            raise CommandError(f"{what} {path} is not writable")
        return p
    ancestor = p.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise CommandError(f"{what} {path} cannot be created: {ancestor} is not a writable folder")
    return p


def _name_videos(exc: Exception, paths: Sequence[str]) -> CommandError:
    """The estimator's error with ``videos[i]`` replaced by the i-th file."""

    def name(m: re.Match) -> str:
        i = int(m.group(1))
        return paths[i] if i < len(paths) else m.group(0)

    text = re.sub(r"\bvideos\[(\d+)\]", name, str(exc))
    for p in paths:  # "videos[i] (path)" became "path (path)"
        text = text.replace(f"{p} ({p})", p)
    return CommandError(text)


def _load_model(path: str, needs: str = "align", trust_pickle: bool = False):
    from skalign.persist import is_model_file, load_model

    p = Path(path)
    if p.is_dir():
        raise CommandError(f"model file {path} is a directory")
    if not p.is_file():
        raise CommandError(f"model file not found: {path}")
    if is_model_file(p):
        try:
            model = load_model(p)
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
    elif not trust_pickle:
        kind = ("is a pickle (joblib) file" if p.suffix.lower() in _PICKLE_SUFFIXES
                else "is not a skalign model file (written by 'skalign fit')")
        raise CommandError(
            f"{path} {kind}: loading a pickle runs any code inside it, so it is refused; pass "
            "--trust-pickle only for a file from a source you trust, or refit with "
            "'skalign fit -o model.skalign'"
        )
    else:
        import joblib

        try:
            model = joblib.load(p)
        except Exception as exc:  # noqa: BLE001 - any unreadable file
            raise CommandError(f"{path} is not a fitted skalign model ({type(exc).__name__}: {exc})") from exc
    if not hasattr(model, needs):
        verb = "align" if needs == "align" else "segment"
        raise CommandError(f"{path} holds a {type(model).__name__}, which cannot {verb} videos")
    return model


def _demo_table(aligner, train, train_labels, test, test_labels) -> None:
    """The papers' metrics of the held-out videos, raw features beside embeddings.

    Phase classification (an SVM on the training videos' labels, 10 % and
    100 % of them) and progression judge the embeddings; frame alignment
    accuracy judges ``align`` against exact DTW on the raw features.
    """
    import numpy as np

    from skalign._base import dtw_alignment
    from skalign.metrics import (
        alignment_accuracy,
        average_precision_at_k,
        kendalls_tau,
        phase_classification_accuracy,
        phase_progression,
    )

    pairs = [(i, j) for i in range(len(test)) for j in range(len(test)) if i != j]

    def row(tr, te, align):
        pc = phase_classification_accuracy(tr, train_labels, te, test_labels, fractions=(0.1, 1.0),
                                           random_state=0)
        prog = phase_progression(tr, train_labels, te, test_labels)
        ap = average_precision_at_k(te, test_labels, k=5)[5]
        acc = np.mean([alignment_accuracy(align(i, j), test_labels[i], test_labels[j]) for i, j in pairs])
        return kendalls_tau(te), pc[0.1], pc[1.0], prog, ap, acc

    raw = row(train, test, lambda i, j: dtw_alignment(test[i], test[j]))
    emb = row(aligner.transform(train), aligner.transform(test), lambda i, j: aligner.align(test[i], test[j]))
    heads = ("Kendall tau", "phase@10%", "phase@100%", "progression", "AP@5", "alignment")
    print("  held-out videos       " + " ".join(f"{h:>11s}" for h in heads))
    print("  raw features (DTW)    " + " ".join(f"{v:11.3f}" for v in raw))
    print("  VAOT embeddings       " + " ".join(f"{v:11.3f}" for v in emb))
    print(f"  (alignment: share of frames matched to their phase over the {len(pairs)} ordered held-out pairs;"
          " raw features by exact DTW, embeddings by VideoAligner.align)")


def _demo(args: argparse.Namespace) -> int:
    _check_epochs(args)

    from skalign import VideoAligner
    from skalign.datasets import make_process_videos

    out = _check_folder(args.out, "--out")
    picture = out / "alignment.png"
    if out.is_dir():
        _check_output(picture, inputs=(), force=args.force, what="picture")
    out.mkdir(parents=True, exist_ok=True)
    logger.info("skalign demo: align videos of one process without labels (VAOT)")
    kw = dict(n_frames=(80, 120), n_features=32, process=args.seed)
    train, train_labels = make_process_videos(12, 6, random_state=args.seed, **kw)
    test, test_labels = make_process_videos(6, 6, random_state=args.seed + 1000, **kw)
    logger.info("  data: 12 training and 6 held-out synthetic videos, 6 phases, %d features a frame",
                kw["n_features"])

    from skalign.engine import resolve_device

    device = resolve_device(args.device)
    logger.info("  fitting VideoAligner(method='vaot') for %d epochs on %s", args.epochs, device)
    start = time.perf_counter()
    aligner = VideoAligner(method="vaot", max_epochs=args.epochs, device=args.device,
                           random_state=args.seed, verbose=_verbosity(args)).fit(train)

    print(f"  fitted VideoAligner(method='vaot') in {time.perf_counter() - start:.1f} s on {device}")
    _demo_table(aligner, train, train_labels, test, test_labels)
    res = aligner.align(test[0], test[1])
    try:
        import matplotlib
    except ImportError as exc:
        logger.warning("skalign demo: no picture written: matplotlib cannot be imported (%s); "
                       "pip install matplotlib", exc)
        return 0
    matplotlib.use("Agg")
    from skalign.plotting import plot_alignment

    picture = picture.resolve()
    ax = plot_alignment(res, kind="vaot", names=("held-out video 0", "held-out video 1"))
    with atomic_path(picture) as tmp:
        ax.figure.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    print(f"  wrote {picture}")
    return 0


def _read(path: str):
    from skalign.io import load_video

    try:
        return load_video(path, name=path)
    except (FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from exc


def _is_feature_file(path: str) -> bool:
    from skalign.io import FEATURE_SUFFIXES

    return Path(path).suffix.lower() in FEATURE_SUFFIXES


def _default_cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "skalign" / "features"


def _frame_features(args: argparse.Namespace, *, cache: bool):
    """The FrameFeatures stage of the decode and backbone options, its cache
    folder checked (and created) before any work."""
    from skalign import FrameFeatures

    for opt, value in (("--size", args.size), ("--max-frames", args.max_frames)):
        if value is not None and value < 1:
            raise CommandError(f"{opt} must be a positive integer, got {value}")
    if args.size is not None and args.size < 32:
        raise CommandError(f"--size must be at least 32 pixels, got {args.size}")
    if args.fps is not None and not args.fps > 0:
        raise CommandError(f"--fps must be a positive frame rate, got {args.fps}")
    cache_dir = None
    if cache and not args.no_cache:
        cache_dir = _check_folder(args.cache_dir or str(_default_cache()), "--cache-dir")
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"--cache-dir {cache_dir} cannot be created: {exc}") from exc
    if args.weights is not None and not Path(args.weights).is_file():
        raise CommandError(f"--weights {args.weights}: file not found")
    return FrameFeatures(backbone=args.backbone, weights=args.weights, n_jobs=args.jobs,
                         size=args.size, fps=args.fps,
                         max_frames=args.max_frames, device=args.device,
                         cache_dir=None if cache_dir is None else str(cache_dir),
                         verbose=1 if _verbosity(args) > 0 else 0)


def _features(args: argparse.Namespace) -> int:
    out = _check_folder(args.out, "--out")
    for path in args.files:
        if _is_feature_file(path):
            raise CommandError(f"{path} is a feature file; 'skalign features' reads video files")
        if not Path(path).is_file():
            raise CommandError(f"video file not found: {path}")
    stage = _frame_features(args, cache=False)
    out.mkdir(parents=True, exist_ok=True)
    try:
        stage.fit()
        paths = stage.save_features(args.files, out, overwrite=args.force)
    except (FileExistsError, ValueError) as exc:
        raise _name_videos(exc, args.files) from exc
    print(f"wrote {stage.n_extracted_} feature files to {out} ({stage.n_cached_} already up to "
          f"date), {len(paths)} videos, {stage.n_features_out_} features a frame")
    return 0


def _fit(args: argparse.Namespace) -> int:
    _check_epochs(args)
    if args.segment is not None and args.segment != "auto":
        try:
            args.segment = int(args.segment)
        except ValueError:
            args.segment = 0
        if args.segment < 1:
            raise CommandError(f"--segment must be a number of actions >= 1 or 'auto', got {args.segment}")
    if len(args.files) < 2:
        raise CommandError("fit needs at least two videos of the same process")
    if Path(args.output).suffix.lower() in _PICKLE_SUFFIXES:
        raise CommandError(
            f"-o {args.output}: skalign fit writes the .skalign format, which runs no code when "
            "loaded, not a pickle; name the file e.g. model.skalign"
        )
    output = _check_output(args.output, inputs=args.files, force=args.force, what="-o")
    checkpoint = None
    if args.checkpoint is not None:
        checkpoint = Path(args.checkpoint)
        if _same_file(checkpoint, output):
            raise CommandError(f"--checkpoint {args.checkpoint} and -o {args.output} are the same "
                               "file; give the checkpoint its own name")
        # an existing checkpoint is resumed, not replaced: no --force needed
        _check_output(checkpoint, inputs=args.files, force=True, what="--checkpoint")

    from skalign import ActionSegmenter, VideoAligner
    from skalign.engine import resolve_device

    # Feature files are small and read here; video files go to the estimator
    # as paths: the feature stage decodes them in small batches (or the conv
    # encoder reads them at --size).
    videos = [_read(p) if _is_feature_file(p) else p for p in args.files]
    has_video = any(not _is_feature_file(p) for p in args.files)
    features = _frame_features(args, cache=True) if has_video and args.encoder != "conv" else None
    if has_video and args.encoder == "conv":
        from skalign.io import VideoCollection

        size = 224 if args.size is None else args.size
        if any(_is_feature_file(p) for p in args.files):
            raise CommandError("--encoder conv needs video files only; some inputs are feature files")
        videos = VideoCollection(args.files, size=size, fps=args.fps, max_frames=args.max_frames)
    common = dict(max_epochs=args.epochs, device=args.device, random_state=args.seed,
                  verbose=_verbosity(args), encoder=args.encoder,
                  features="auto" if features is None else features,
                  checkpoint=None if checkpoint is None else str(checkpoint),
                  callbacks=[_INTERRUPT.callback()])
    if args.segment is not None:
        model = ActionSegmenter(n_actions=args.segment, **common)
        kind = f"ActionSegmenter, {args.segment} actions"
        name = f"ActionSegmenter(n_actions={args.segment!r})"
    else:
        model = VideoAligner(method=args.method, **common)
        kind = args.method
        name = f"VideoAligner(method={args.method!r})"
    logger.info("fitting %s on %d videos for %d epochs on %s", name, len(videos), args.epochs,
                resolve_device(args.device))
    if checkpoint is not None and checkpoint.exists():
        logger.info("resuming from the checkpoint %s", checkpoint)
    try:
        model.fit(videos)
    except ValueError as exc:
        raise _name_videos(exc, args.files) from exc
    except KeyboardInterrupt:
        if checkpoint is not None:  # the engine's temporary file(s), if cut short
            for tmp in checkpoint.parent.glob(f"{glob.escape(checkpoint.name)}*.tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            if checkpoint.exists() or any(checkpoint.parent.glob(f"{glob.escape(checkpoint.name)}.k*")):
                logger.warning("the checkpoint %s keeps the epochs done; run the same command "
                               "to resume", checkpoint)
        raise
    if int(os.environ.get("RANK", "0") or 0) > 0:
        return 0  # under torchrun every rank holds the same model; rank 0 writes it
    from skalign.persist import save_model

    save_model(model, output)
    if args.segment == "auto":
        counts = " ".join(str(int(c)) for c in model.search_["segments"])
        print(f"chose {model.n_actions_} actions, the median of the segments counted in each video: "
              f"{counts}")
        kind = f"ActionSegmenter, {model.n_actions_} actions chosen"
    print(f"wrote {args.output} ({kind}, {len(videos)} videos, {args.epochs} epochs)")
    return 0


def _align(args: argparse.Namespace) -> int:
    inputs = (args.model, args.a, args.b)
    csv_path = plot_path = None
    if args.csv:
        csv_path = _check_output(args.csv, inputs=inputs, force=args.force, what="--csv")
    if args.plot:
        plot_path = _check_output(args.plot, inputs=inputs, force=args.force, what="--plot")
        if csv_path is not None and _same_file(csv_path, plot_path):
            raise CommandError(f"--csv and --plot name the same file {args.csv}")
        try:
            import matplotlib
        except ImportError as exc:
            raise CommandError("--plot needs matplotlib: pip install matplotlib") from exc
        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        fmt = plot_path.suffix[1:].lower() or "png"
        if fmt not in Figure().canvas.get_supported_filetypes():
            raise CommandError(f"--plot {args.plot}: unknown picture format {fmt!r}; use .png")
    model = _load_model(args.model, trust_pickle=args.trust_pickle)
    a = _check_video(model, args.a)
    b = _check_video(model, args.b)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.align(a, b)
    for w in caught:  # one line each, through the logger, not Python's warning format
        logger.warning("warning: %s", str(w.message).replace("videos a and b", f"{args.a} and {args.b}"))
    matched = res.matches >= 0
    print(f"{args.a}: {len(res.matches)} frames, {int(matched.sum())} matched to {args.b}, "
          f"{int((~matched).sum())} unmatched")
    if csv_path is not None:
        with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["frame_a", "frame_b"])
            writer.writerows((i, int(j)) for i, j in enumerate(res.matches))
        print(f"wrote {args.csv}")
    if plot_path is not None:
        from skalign.plotting import plot_alignment

        ax = plot_alignment(res, kind=getattr(model, "method", None),
                            names=(Path(args.a).name, Path(args.b).name))
        with atomic_path(plot_path) as tmp:
            ax.figure.savefig(tmp, dpi=100, bbox_inches="tight", format=fmt)
        print(f"wrote {args.plot}")
    return 0


#: What ``segment`` appends to an input's stem to name its label file.
_LABELS_SUFFIX = ".labels.txt"


def _check_video(model, path: str):
    """Read a file and check it against the fitted model; errors name the file.

    A video file goes to a model with a feature stage as its path (decoded
    there in small batches, with the model's decode settings); a model
    fitted on frames reads it at its fitted frame size."""
    if not _is_feature_file(path) and getattr(model, "features_", None) is not None:
        video = path
    elif not _is_feature_file(path) and getattr(model, "input_kind_", None) == "frames":
        from skalign.io import load_video

        try:
            video = load_video(path, name=path, size=tuple(model.frame_shape_[:2]))
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
    else:
        video = _read(path)
    check = getattr(model, "_check_one", None)
    if check is None or not hasattr(model, "frame_shape_"):
        return video
    try:
        return check(video, path)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _segment(args: argparse.Namespace) -> int:
    import numpy as np

    out = _check_folder(args.out, "--out")
    inputs = (args.model, *args.files)
    targets: dict[Path, str] = {}
    for path in args.files:
        target = out / f"{Path(path).stem}{_LABELS_SUFFIX}"
        for seen, other in targets.items():
            if _same_file(seen, target):
                raise CommandError(f"{other} and {path} would both write {target}; segment them in "
                                   "separate runs with different --out folders")
        if out.is_dir():
            _check_output(target, inputs=inputs, force=args.force, what="label file")
        targets[target] = path
    model = _load_model(args.model, needs="predict", trust_pickle=args.trust_pickle)
    out.mkdir(parents=True, exist_ok=True)
    for target, path in targets.items():
        labels = np.asarray(model.predict(_check_video(model, path)))
        with atomic_path(target) as tmp:
            np.savetxt(tmp, labels.astype(np.int64), fmt="%d")
        n_segments = int(1 + np.count_nonzero(np.diff(labels))) if len(labels) else 0
        print(f"{path}: {len(labels)} frames, {len(np.unique(labels))} actions, "
              f"{n_segments} segments -> {target}")
    return 0

#: Containers ``skalign sync`` writes.
_SYNC_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi")


def _reference_index(value: str | None, files: Sequence[str]) -> int | None:
    """``--reference``: one of the files (by name) or its index; None: the medoid."""
    if value is None:
        return None
    for i, path in enumerate(files):
        if value == path or _same_file(Path(value), Path(path)):
            return i
    try:
        index = int(value)
    except ValueError:
        raise CommandError(f"--reference {value} is neither one of the videos nor an index") from None
    if not 0 <= index < len(files):
        raise CommandError(f"--reference {index} is not the index of one of the {len(files)} videos")
    return index


def _sync(args: argparse.Namespace) -> int:
    if len(args.files) < 2:
        raise CommandError("sync needs at least two video files")
    for path in args.files:
        if _is_feature_file(path):
            raise CommandError(f"{path} is a feature file; sync shows the frames of video files")
        if not Path(path).is_file():
            raise CommandError(f"video file not found: {path}")
    if args.tile < 16:
        raise CommandError(f"--tile must be at least 16 pixels, got {args.tile}")
    if args.columns is not None and args.columns < 1:
        raise CommandError(f"--columns must be at least 1, got {args.columns}")
    out = _check_output(args.out, inputs=(args.model, *args.files), force=args.force, what="--out")
    if out.suffix.lower() not in _SYNC_SUFFIXES:
        raise CommandError(f"--out {args.out}: write a video file ({', '.join(_SYNC_SUFFIXES)})")
    csv_path = None
    if args.csv:
        csv_path = _check_output(args.csv, inputs=(args.model, *args.files), force=args.force,
                                 what="--csv")
        if _same_file(csv_path, out):
            raise CommandError(f"--csv and --out name the same file {args.csv}")
    reference = _reference_index(args.reference, args.files)
    model = _load_model(args.model, trust_pickle=args.trust_pickle)
    if not hasattr(model, "align_many"):
        raise CommandError(f"{args.model} holds a {type(model).__name__}, which cannot align videos")
    stage = getattr(model, "features_", None)
    if stage is None and getattr(model, "input_kind_", None) != "frames":
        raise CommandError(f"{args.model} was fitted on feature files; sync needs a model fitted on "
                           "video files (skalign fit VIDEO.mp4 ...)")
    if stage is not None:
        stage.verbose = 0 if args.quiet else 1  # the backbone's progress per video, on stderr
    videos = list(args.files) if stage is not None else [_check_video(model, p) for p in args.files]
    decode = ({"fps": stage.fps, "max_frames": stage.max_frames} if stage is not None
              else {"fps": None, "max_frames": None})
    logger.info("skalign sync: aligning %d videos%s", len(videos),
                "" if reference is None else f" to {args.files[reference]}")
    try:
        timeline = model.align_many(videos, reference=reference)
        labels = model.predict(videos) if args.phases and hasattr(model, "predict") else None
    except (FileNotFoundError, ValueError) as exc:
        raise _name_videos(exc, args.files) from exc
    ref = args.files[timeline.reference]
    print(f"timeline: {timeline.n_steps} steps, the frames of {ref}"
          + (" (the medoid)" if reference is None else ""))
    for path, frames, steps in zip(args.files, timeline.frames, timeline.steps):
        print(f"  {path}: {int((steps >= 0).sum())} of {len(steps)} frames on the timeline, "
              f"no counterpart at {int((frames < 0).sum())} steps")
    if csv_path is not None:
        with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["step", *args.files])
            writer.writerows([t, *(int(f[t]) for f in timeline.frames)] for t in range(timeline.n_steps))
        print(f"wrote {args.csv}")
    from skalign.io import write_synced_video

    try:
        write_synced_video(args.files, timeline, out, tile=args.tile, columns=args.columns,
                           labels=labels, overwrite=args.force, progress=not args.quiet, **decode)
    except (FileNotFoundError, ValueError) as exc:
        raise _name_videos(exc, args.files) from exc
    print(f"wrote {args.out} ({len(args.files)} videos, {timeline.n_steps} frames)")
    return 0


def _add_decode_options(parser: argparse.ArgumentParser, *, cache: bool) -> None:
    """Add the decoding and backbone options of video files."""
    group = parser.add_argument_group("video files")
    group.add_argument("--backbone", default="mobilenet_v2", choices=("mobilenet_v2", "resnet50"),
                       help="pretrained ImageNet backbone of the features (default: mobilenet_v2)")
    group.add_argument("--weights", metavar="FILE", default=None,
                       help="the backbone's weights (a torchvision state dict; default: the "
                            "installed ImageNet weights)")
    group.add_argument("-j", "--jobs", type=int, default=None,
                       help="CPU threads of the backbone: -1 every core (fastest on a machine of "
                            "your own; on cores other work shares, one thread is faster) "
                            "(default: 1)")
    group.add_argument("--size", type=int, default=224,
                       help="decode frames at SIZE x SIZE pixels (default: 224)")
    group.add_argument("--fps", type=float, default=None,
                       help="resample videos to this frame rate (default: every frame)")
    group.add_argument("--max-frames", type=int, default=None,
                       help="use at most the first N frames of each video (default: all)")
    if cache:
        group.add_argument("--cache-dir", default=None,
                           help="folder of the feature cache: a second fit on the same videos "
                                f"neither decodes nor runs the backbone (default: {_default_cache()})")
        group.add_argument("--no-cache", action="store_true", help="keep no feature cache")


def _add_progress_options(parser: argparse.ArgumentParser) -> None:
    """Add the ``-v/--verbose`` and ``-q/--quiet`` flags (one or the other)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true",
                       help="also draw a progress bar over each epoch's steps")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="print results only: no training progress or other messages")


_FORCE_HELP = "replace existing output files (never the inputs)"
_TRUST_HELP = ("also read a pickle/joblib model: loading a pickle RUNS THE CODE inside the file, "
               "so use it only for files from a source you trust (without it only .skalign "
               "models, which run no code, are read)")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``skalign`` argument parser without running anything.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser of ``skalign`` and its subcommands (``demo``, ``fit``,
        ``features``, ``align``, ``segment``, ``sync``); each subcommand's parsed namespace has a
        ``func`` that runs it.
    """
    parser = argparse.ArgumentParser(prog="skalign", description="Self-supervised video alignment.")
    parser.add_argument("--version", action="version", version=f"skalign {__version__}",
                        help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="run 'skalign COMMAND --help' for its options")

    demo = sub.add_parser("demo", help="fit VAOT on synthetic videos and report its figures")
    demo.add_argument("--out", default=".", help="folder for alignment.png (default: current)")
    demo.add_argument("--epochs", type=int, default=40, help="training epochs, >= 1 (default: 40)")
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of data and training (default: 0)")
    demo.add_argument("--force", action="store_true", help=_FORCE_HELP)
    _add_progress_options(demo)
    demo.set_defaults(func=_demo)

    fit = sub.add_parser("fit", help="learn embeddings from videos or feature files")
    fit.add_argument("files", nargs="+", help="video files (.mp4, ...) or feature files (.npy, .txt)")
    fit.add_argument("--method", default="vaot",
                     help="alignment method: vaot, vava, gta, lac or sdtw (default: vaot)")
    fit.add_argument("--segment", metavar="K",
                     help="fit an ActionSegmenter with K actions instead of a VideoAligner; 'auto' "
                          "chooses K from 2 to 12: the median number of segments (abrupt changes "
                          "of the features, plus one) of the videos")
    fit.add_argument("-o", "--output", default="model.skalign",
                     help="where to write the model, in the .skalign format, which runs no code "
                          "when loaded (default: model.skalign)")
    fit.add_argument("--checkpoint", metavar="FILE",
                     help="write the training state to FILE after every epoch; when FILE exists, "
                          "resume from it (run the same command again after an interruption)")
    fit.add_argument("--force", action="store_true", help=_FORCE_HELP)
    fit.add_argument("--epochs", type=int, default=50, help="training epochs, >= 1 (default: 50)")
    fit.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    fit.add_argument("--seed", type=int, default=0, help="random seed of training (default: 0)")
    fit.add_argument("--encoder", default="auto", choices=("auto", "temporal", "mlp", "conv"),
                     help="auto: the papers' temporal head on pretrained features of video files "
                          "(an MLP on feature files); conv: a convolutional encoder trained from "
                          "scratch on the pixels (default: auto)")
    _add_decode_options(fit, cache=True)
    _add_progress_options(fit)
    fit.set_defaults(func=_fit)

    features = sub.add_parser(
        "features", help="extract pretrained per-frame features of video files, one .npy each")
    features.add_argument("files", nargs="+", help="video files (.mp4, ...)")
    features.add_argument("--out", required=True,
                          help="folder for <stem>.npy (features) and <stem>.json (their settings); "
                               "a rerun skips videos whose features are up to date, so an "
                               "interrupted run resumes")
    features.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    features.add_argument("--force", action="store_true",
                          help="replace .npy files of the same names that skalign did not write")
    _add_decode_options(features, cache=False)
    _add_progress_options(features)
    features.set_defaults(func=_features)

    align = sub.add_parser("align", help="align two videos with a fitted model")
    align.add_argument("model", help="a model written by 'skalign fit'")
    align.add_argument("a", help="the first video or feature file")
    align.add_argument("b", help="the second video or feature file, matched to frames of a")
    align.add_argument("--plot", metavar="PNG", help="write a picture of the alignment (PNG)")
    align.add_argument("--csv", metavar="CSV",
                       help="write the matches as frame_a,frame_b rows (-1: unmatched)")
    align.add_argument("--force", action="store_true", help=_FORCE_HELP)
    align.add_argument("--trust-pickle", action="store_true", help=_TRUST_HELP)
    align.set_defaults(func=_align)

    segment = sub.add_parser("segment", help="label every frame with an action using a fitted model")
    segment.add_argument("model", help="a model written by 'skalign fit --segment K'")
    segment.add_argument("files", nargs="+", help="video files (.mp4, ...) or feature files (.npy, .txt)")
    segment.add_argument("--out", default=".",
                         help="folder for the <stem>.labels.txt files, one label a line (default: "
                              "current); inputs whose stems coincide (d1/x.npy, d2/x.npy) are "
                              "refused: segment them in runs with different --out folders")
    segment.add_argument("--force", action="store_true", help=_FORCE_HELP)
    segment.add_argument("--trust-pickle", action="store_true", help=_TRUST_HELP)
    segment.set_defaults(func=_segment)

    sync = sub.add_parser("sync", help="put videos on one timeline and write them side by side, in sync")
    sync.add_argument("model", help="a model written by 'skalign fit' on video files")
    sync.add_argument("files", nargs="+", help="video files (.mp4, ...), at least two")
    sync.add_argument("-o", "--out", required=True,
                      help="the video to write (.mp4): a grid of the videos, frame t of it showing "
                           "each video's frame at step t of the timeline")
    sync.add_argument("--reference", metavar="VIDEO",
                      help="the video whose frames are the timeline (one of FILES, or its index); "
                           "default: the medoid, the video closest to all others")
    sync.add_argument("--tile", type=int, default=180, help="height of each video in the grid, in "
                                                            "pixels (default: 180)")
    sync.add_argument("--columns", type=int, default=None,
                      help="videos per row of the grid (default: the square root of their number)")
    sync.add_argument("--phases", action="store_true",
                      help="draw a strip of each frame's predicted action under its video (a model "
                           "that aligns and segments: a JointAlignSegment saved with "
                           "skalign.persist.save_model)")
    sync.add_argument("--csv", metavar="CSV",
                      help="also write the timeline: a row per step, the frame of each video "
                           "(-1: no counterpart)")
    sync.add_argument("--force", action="store_true", help=_FORCE_HELP)
    sync.add_argument("--trust-pickle", action="store_true", help=_TRUST_HELP)
    sync.add_argument("-q", "--quiet", action="store_true",
                      help="print results only: no progress or other messages")
    sync.set_defaults(func=_sync)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skalign`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments, without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    status : int
        0 on success, 2 after a one-line error on stderr, 130 after Ctrl-C
        (one line on stderr, no partial output file). ``--help``,
        ``--version`` and malformed options exit through :class:`SystemExit`
        as :mod:`argparse` does.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _cli_logging(quiet=getattr(args, "quiet", False)), _INTERRUPT.catching():
            return args.func(args)
    except (CommandError, ValueError, OSError, NotImplementedError) as exc:
        if args.debug:
            raise
        print(f"skalign {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"skalign {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
