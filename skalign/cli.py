"""The ``skalign`` command: ``demo``, ``fit``, ``align`` and ``segment``.

Run ``skalign --help`` or ``python -m skalign --help``. Bad input ends with a
one-line error and exit status 2 (the traceback with ``--debug``).

Results go to standard output. Progress (the training engine's per-epoch
lines) and other messages go to standard error, through the ``"skalign"``
:mod:`logging` logger at level INFO; ``--quiet`` keeps only warnings and
errors, ``--verbose`` adds a per-step progress bar.

This module imports only the standard library at import time; numpy, torch
and the estimators load inside the subcommands, so ``skalign --help`` and
``skalign --version`` answer at once.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import logging
import sys
import time
from pathlib import Path
from typing import Iterator, Sequence

from skalign import __version__

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


def _verbosity(args: argparse.Namespace) -> int:
    """The estimators' ``verbose``: 0 with --quiet, 2 with -v, else 1 (a line per epoch)."""
    if getattr(args, "quiet", False):
        return 0
    return 2 if getattr(args, "verbose", False) else 1


def _check_epochs(args: argparse.Namespace) -> None:
    """Refuse a number of epochs that would write an untrained model."""
    if args.epochs < 1:
        raise CommandError(f"--epochs must be a number of training epochs >= 1, got {args.epochs}")


def _load_model(path: str, needs: str = "align"):
    import joblib

    p = Path(path)
    if not p.is_file():
        raise CommandError(f"model file not found: {path}")
    try:
        model = joblib.load(p)
    except Exception as exc:  # noqa: BLE001 - any unreadable file
        raise CommandError(f"{path} is not a fitted skalign model ({type(exc).__name__}: {exc})") from exc
    if not hasattr(model, needs):
        verb = "align" if needs == "align" else "segment"
        raise CommandError(f"{path} holds a {type(model).__name__}, which cannot {verb} videos")
    return model


def _demo(args: argparse.Namespace) -> int:
    _check_epochs(args)
    import numpy as np

    from skalign import VideoAligner
    from skalign.datasets import make_process_videos
    from skalign.metrics import alignment_accuracy, kendalls_tau, phase_classification_accuracy

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logger.info("skalign demo: align videos of one process without labels (VAOT)")
    kw = dict(n_frames=(80, 120), n_features=32, process=args.seed)
    train, _ = make_process_videos(12, 6, random_state=args.seed, **kw)
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
    emb = aligner.transform(test)

    def figures(vectors):
        half = len(vectors) // 2
        acc = phase_classification_accuracy(vectors[:half], test_labels[:half], vectors[half:],
                                             test_labels[half:], fractions=(1.0,), random_state=0)
        return kendalls_tau(vectors), acc[1.0]

    raw_tau, raw_acc = figures(test)
    tau, acc = figures(emb)
    print(f"  {'held-out videos':22s} {'Kendall tau':>12s} {'phase accuracy':>15s}")
    print(f"  {'raw features':22s} {raw_tau:12.3f} {raw_acc:15.3f}")
    print(f"  {'VAOT embeddings':22s} {tau:12.3f} {acc:15.3f}")

    from itertools import combinations

    from skalign.ot import decode_matches, vaot

    unit = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in test]
    pairs = list(combinations(range(len(test)), 2))
    # Balanced (the paper), then with the second video's marginal relaxed:
    # align_lambda is used by align only, so no refit is needed.
    rows = {"VAOT on raw features": [], "VAOT on embeddings": []}
    for lam in (None, 0.1):
        aligner.set_params(align_lambda=lam)
        raw_acc, emb_acc = [], []
        for i, j in pairs:
            raw = decode_matches(vaot(1.0 - unit[i] @ unit[j].T, epsilon=0.04, lambda_y=lam).plan)
            raw_acc.append(alignment_accuracy(raw, test_labels[i], test_labels[j]))
            emb = aligner.align(test[i], test[j]).matches
            emb_acc.append(alignment_accuracy(emb, test_labels[i], test_labels[j]))
        rows["VAOT on raw features"].append(np.mean(raw_acc))
        rows["VAOT on embeddings"].append(np.mean(emb_acc))
    aligner.set_params(align_lambda=None)
    print(f"  alignment accuracy over the {len(pairs)} held-out pairs (frames matched to the same phase):")
    print(f"    {'':22s} {'balanced':>9s} {'align_lambda=0.1':>17s}")
    for name, (bal, rel) in rows.items():
        print(f"    {name:22s} {bal:9.3f} {rel:17.3f}")
    res = aligner.align(test[0], test[1])
    try:
        import matplotlib
    except ImportError as exc:
        logger.warning("skalign demo: no picture written: matplotlib cannot be imported (%s); "
                       "pip install matplotlib", exc)
        return 0
    matplotlib.use("Agg")
    from skalign.plotting import plot_alignment

    picture = (out / "alignment.png").resolve()
    ax = plot_alignment(res, kind="vaot", names=("held-out video 0", "held-out video 1"))
    ax.figure.savefig(picture, dpi=100, bbox_inches="tight")
    print(f"  wrote {picture}")
    return 0


def _read(path: str):
    from skalign.io import load_video

    try:
        return load_video(path, name=path)
    except (FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from exc


def _fit(args: argparse.Namespace) -> int:
    import joblib

    _check_epochs(args)
    if args.segment is not None and args.segment < 1:
        raise CommandError(f"--segment must be a number of actions >= 1, got {args.segment}")
    if len(args.files) < 2:
        raise CommandError("fit needs at least two videos of the same process")

    from skalign import ActionSegmenter, VideoAligner
    from skalign.engine import resolve_device

    videos = [_read(p) for p in args.files]
    common = dict(max_epochs=args.epochs, device=args.device, random_state=args.seed,
                  verbose=_verbosity(args))
    if args.segment is not None:
        model = ActionSegmenter(n_actions=args.segment, **common)
        kind = f"ActionSegmenter, {args.segment} actions"
        name = f"ActionSegmenter(n_actions={args.segment})"
    else:
        model = VideoAligner(method=args.method, **common)
        kind = args.method
        name = f"VideoAligner(method={args.method!r})"
    logger.info("fitting %s on %d videos for %d epochs on %s", name, len(videos), args.epochs,
                resolve_device(args.device))
    model.fit(videos)
    joblib.dump(model, args.output)
    print(f"wrote {args.output} ({kind}, {len(videos)} videos, {args.epochs} epochs)")
    return 0


def _align(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    a, b = _read(args.a), _read(args.b)
    res = model.align(a, b)
    matched = res.matches >= 0
    print(f"{args.a}: {len(res.matches)} frames, {int(matched.sum())} matched to {args.b}, "
          f"{int((~matched).sum())} unmatched")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["frame_a", "frame_b"])
            writer.writerows((i, int(j)) for i, j in enumerate(res.matches))
        print(f"wrote {args.csv}")
    if args.plot:
        try:
            import matplotlib
        except ImportError as exc:
            raise CommandError("--plot needs matplotlib: pip install matplotlib") from exc
        matplotlib.use("Agg")
        from skalign.plotting import plot_alignment

        ax = plot_alignment(res, kind=getattr(model, "method", None),
                            names=(Path(args.a).name, Path(args.b).name))
        ax.figure.savefig(args.plot, dpi=100, bbox_inches="tight")
        print(f"wrote {args.plot}")
    return 0


def _segment(args: argparse.Namespace) -> int:
    import numpy as np

    model = _load_model(args.model, needs="predict")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in args.files:
        labels = np.asarray(model.predict(_read(path)))
        target = out / f"{Path(path).stem}.txt"
        np.savetxt(target, labels.astype(np.int64), fmt="%d")
        n_segments = int(1 + np.count_nonzero(np.diff(labels))) if len(labels) else 0
        print(f"{path}: {len(labels)} frames, {len(np.unique(labels))} actions, "
              f"{n_segments} segments -> {target}")
    return 0


def _add_progress_options(parser: argparse.ArgumentParser) -> None:
    """Add the ``-v/--verbose`` and ``-q/--quiet`` flags (one or the other)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true",
                       help="also draw a progress bar over each epoch's steps")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="print results only: no training progress or other messages")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``skalign`` argument parser without running anything.

    Returns
    -------
    parser : argparse.ArgumentParser
        The parser of ``skalign`` and its subcommands (``demo``, ``fit``,
        ``align``, ``segment``); each subcommand's parsed namespace has a
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
    _add_progress_options(demo)
    demo.set_defaults(func=_demo)

    fit = sub.add_parser("fit", help="learn embeddings from videos or feature files")
    fit.add_argument("files", nargs="+", help="video files (.mp4, ...) or feature files (.npy, .txt)")
    fit.add_argument("--method", default="vaot",
                     help="alignment method: vaot, vava, gta, lac or sdtw (default: vaot)")
    fit.add_argument("--segment", type=int, metavar="K",
                     help="fit an ActionSegmenter with K actions instead of a VideoAligner")
    fit.add_argument("-o", "--output", default="model.joblib",
                     help="where to write the model (default: model.joblib)")
    fit.add_argument("--epochs", type=int, default=50, help="training epochs, >= 1 (default: 50)")
    fit.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    fit.add_argument("--seed", type=int, default=0, help="random seed of training (default: 0)")
    _add_progress_options(fit)
    fit.set_defaults(func=_fit)

    align = sub.add_parser("align", help="align two videos with a fitted model")
    align.add_argument("model", help="a model written by 'skalign fit'")
    align.add_argument("a", help="the first video or feature file")
    align.add_argument("b", help="the second video or feature file, matched to frames of a")
    align.add_argument("--plot", metavar="PNG", help="write a picture of the alignment (PNG)")
    align.add_argument("--csv", metavar="CSV",
                       help="write the matches as frame_a,frame_b rows (-1: unmatched)")
    align.set_defaults(func=_align)

    segment = sub.add_parser("segment", help="label every frame with an action using a fitted model")
    segment.add_argument("model", help="a model written by 'skalign fit --segment K'")
    segment.add_argument("files", nargs="+", help="video files (.mp4, ...) or feature files (.npy, .txt)")
    segment.add_argument("--out", default=".",
                         help="folder for the <stem>.txt files, one label a line (default: current)")
    segment.set_defaults(func=_segment)
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
        0 on success, 2 after a one-line error on stderr. ``--help``,
        ``--version`` and malformed options exit through :class:`SystemExit`
        as :mod:`argparse` does.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _cli_logging(quiet=getattr(args, "quiet", False)):
            return args.func(args)
    except (CommandError, ValueError, OSError, NotImplementedError) as exc:
        if args.debug:
            raise
        print(f"skalign {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
