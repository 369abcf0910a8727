"""The real-video path end to end: mp4 files -> decode -> MobileNetV2 -> head.

Renders ``--n-videos`` process videos (``make_process_videos(kind="frames")``,
5 phases, the generator's default noise and nuisance) of ``--n-frames``
frames each into 640 x 360 mp4 files at 30 fps: each video is drawn at
120 x 120 pixels, enlarged 3 times (nearest) and letterboxed into the 16:9
frame (the backbone sees the 640 x 360 frame squashed to 224 x 224, so the
actor's 360 x 360 square reaches it at 126 x 224: drawing it finer would
not show). Encoding is libx264 CRF 23, preset ``ultrafast``, through PyAV
(``skalign.io.write_video`` has no preset, and its default preset spends
longer encoding than the generator spends drawing); ``--threads`` worker
processes draw and encode. The phase label of every frame is kept beside
its file (``.npy``), for evaluation only. Then, in this order:

1. ``decode``: frames per second of ``skalign.io.iter_frames(path,
   size=224)`` (what FrameFeatures decodes) and of ``read_video(path)`` at
   the full 640 x 360, over the first 3 files, in this process.
2. ``backbone``: frames per second of MobileNetV2 at 224 x 224
   (``FrameFeatures.transform`` on in-memory 224 x 224 frames, batch
   ``"auto"``) on ``--device``, with ``--threads`` torch threads and with
   one thread (what ``VideoAligner.fit`` uses by default: ``n_jobs=None``).
3. ``skalign fit`` as a subprocess with its default settings (VAOT,
   MobileNetV2 at 224, seed 0, a fresh ``--cache-dir``, ``--epochs``),
   over the first n/4 videos and over all n: wall time and peak resident
   memory of the fit process (``ru_maxrss`` of the children of a small
   wrapper process that starts it, so each figure is that fit's own), and
   their ratio (memory should not grow with the number of videos; the
   target is under 2 GB).
4. The same ``skalign fit`` over all n again, same cache folder: wall time
   of the cached fit against the first.
5. Accuracy on held-out rendered videos: the first 3/4 of the videos train,
   the rest are scored (labels used for scoring only), for

   - ``raw``: the MobileNetV2 features themselves (no training), read back
     from the cache of step 3;
   - ``temporal``: ``VideoAligner(method="vaot")`` with its defaults on the
     video files (FrameFeatures with that cache, then the papers' temporal
     head), ``--epochs`` epochs;
   - ``conv``: ``VideoAligner(method="vaot", encoder="conv",
     features=None)``, a ConvEncoder trained from scratch on the files
     decoded at 64 x 64;
   - ``diagonal``: frame ``i`` of ``a`` matched to frame ``i (m-1)/(n-1)``
     of ``b``, the alignment that uses time only (alignment accuracy only).

   The estimators keep the library's defaults but for ``max_epochs`` and
   ``device`` (so ``n_jobs=None``: one CPU thread, as in ``skalign fit``).
   Figures: Kendall's tau of the held-out videos
   (``skalign.metrics.kendalls_tau``, stride 5); phase classification
   accuracy (``phase_classification_accuracy``, SVM) with the labels of
   10 % of the training videos (at least one), mean over 5 draws of those
   videos; alignment accuracy (``alignment_accuracy``: share of frames of
   ``a`` matched to a frame of ``b`` of the same phase; an unmatched frame
   counts as wrong, since every phase is in every video) over all ordered
   pairs of held-out videos, with each decoder: ``DTW`` (exact DTW on the
   cosine cost of the row's embeddings; the only decoder of ``raw``),
   ``VAOT`` (the learned rows' own ``align``: the balanced VAOT plan with
   its virtual frame, run on the embeddings computed once) and ``VAOT-rel``
   (the same with ``align_lambda=0.1``). Learned rows: mean +- std over
   ``--seeds`` training seeds (same data); a last table gives each learned
   row minus ``raw`` and says plainly where it is worse.

Times of one run share the machine state; ratios come from the same run.

Run: ``python benchmarks/bench_video_pipeline.py [--quick] [--device cpu|cuda]
[--threads 2] [--epochs 10] [--seeds 2] [--json FILE] [--keep]``. The
default (40 videos of 300 frames, 10 epochs, 2 seeds) took 19 minutes on 2
CPU cores (1161 s, beside other work), two thirds of it the three
``skalign fit`` runs, chiefly MobileNetV2 inside the first two (15000 frames
on the one thread ``skalign fit`` gives it); ``--quick`` (8 videos of 60
frames, 3 epochs, 1 seed) about 1.5 minutes. On CUDA the one-thread
backbone figure is left out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS = 640, 360, 30
RENDER_SIZE = 120  # drawn at this size, enlarged 3 x to the 360 x 360 square
SCALE = HEIGHT // RENDER_SIZE
N_PHASES = 5
CONV_SIZE = 64
LABEL_FRACTION = 0.1
PC_DRAWS = 5
DECODE_FILES = 3
MEMORY_TARGET_MB = 2048
RELAXED_LAMBDA = 0.1  # align_lambda of the relaxed VAOT decoder

# Starts one command and reports its exit status, wall time and the peak
# resident memory of its process tree (ru_maxrss of the waited-for children:
# the largest of them, so this wrapper must run one fit only).
_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.call(sys.argv[1:])\n"
    "wall = time.perf_counter() - t\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'@@fit {rc} {wall:.6f} {peak}', flush=True)\n"
)


# ------------------------------------------------------------------ rendering
def _render_one(job: tuple[int, int, int, str]) -> tuple[str, float, float]:
    """Draw video ``index``, letterbox it to 640 x 360, encode it; save its labels."""
    index, n_frames, seed, folder = job
    import av
    import torch

    torch.set_num_threads(1)
    from skalign.datasets import make_process_videos

    t0 = time.perf_counter()
    frames, labels = make_process_videos(
        1, N_PHASES, kind="frames", n_frames=n_frames, size=RENDER_SIZE,
        random_state=seed * 100_003 + index,
    )
    t1 = time.perf_counter()
    path = Path(folder) / f"video{index:03d}.mp4"
    np.save(path.with_suffix(".npy"), labels[0])
    canvas = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    left = (WIDTH - HEIGHT) // 2
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "23", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for img in frames[0]:
            canvas[:, left:left + HEIGHT] = img.repeat(SCALE, axis=0).repeat(SCALE, axis=1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return str(path), t1 - t0, time.perf_counter() - t1


def render(folder: Path, n_videos: int, n_frames: int, seed: int, workers: int) -> dict:
    import multiprocessing as mp

    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(i, n_frames, seed, str(folder)) for i in range(n_videos)]
    t0 = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            done = list(pool.map(_render_one, jobs))
    else:
        done = [_render_one(job) for job in jobs]
    wall = time.perf_counter() - t0
    return {
        "paths": [d[0] for d in done],
        "wall_s": wall,
        "draw_cpu_s": float(sum(d[1] for d in done)),
        "encode_cpu_s": float(sum(d[2] for d in done)),
        "mb": sum(os.path.getsize(d[0]) for d in done) / 2**20,
    }


# --------------------------------------------------------------- decode, net
def bench_decode(paths: list[str]) -> dict:
    from skalign.io import iter_frames, read_video

    n_iter = n_read = 0
    t_iter = t_read = 0.0
    for path in paths:
        t0 = time.perf_counter()
        n_iter += sum(len(b) for b in iter_frames(path, size=224))
        t_iter += time.perf_counter() - t0
        t0 = time.perf_counter()
        n_read += len(read_video(path))
        t_read += time.perf_counter() - t0
    return {"files": len(paths), "iter_frames_224_fps": n_iter / t_iter, "read_video_full_fps": n_read / t_read}


def bench_backbone(path: str, device: str, threads: int) -> dict:
    import torch

    from skalign import FrameFeatures
    from skalign.io import read_video
    from skalign.utils import thread_limit

    want = 128 if not device.startswith("cuda") else 2048
    frames = read_video(path, size=224)
    frames = np.concatenate([frames] * int(np.ceil(want / len(frames))))[:want]
    ff = FrameFeatures(device=device).fit()
    batch = ff._batch()
    out = {"frames": want, "batch": batch}
    settings = [("threads", threads)]
    if not device.startswith("cuda"):
        settings.append(("one_thread", 1))
    with thread_limit(threads):
        feats = ff.transform(frames[:min(batch, want)])  # warm-up
    for _ in range(2):  # alternate, keep each setting's best: the machine may be shared
        for name, n in settings:
            with thread_limit(n):
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                feats = ff.transform(frames)
                fps = want / (time.perf_counter() - t0)
            out[f"{name}_fps"] = max(fps, out.get(f"{name}_fps", 0.0))
    out["n_features"] = int(feats.shape[1])
    return out


# ------------------------------------------------------------------- CLI fit
def run_fit(files: list[str], cache: Path, model: Path, epochs: int, device: str, threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "skalign", "fit", *files,
           "-o", str(model), "--force", "--epochs", str(epochs), "--cache-dir", str(cache),
           "--device", device]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = [s for s in proc.stdout.splitlines() if s.startswith("@@fit ")]
    if proc.returncode != 0 or not line or line[-1].split()[1] != "0":
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise RuntimeError(f"skalign fit over {len(files)} videos failed:\n{tail}")
    _, _, wall, peak = line[-1].split()
    peak_mb = int(peak) / (2**20 if sys.platform == "darwin" else 2**10)  # bytes on macOS, KiB on Linux
    return {"videos": len(files), "wall_s": float(wall), "peak_rss_mb": peak_mb}


# ------------------------------------------------------------------ accuracy
def _pairs(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(n) if i != j]


def _dtw_matches(emb_a: np.ndarray, emb_b: np.ndarray) -> np.ndarray:
    from skalign._aligner import _dtw_align

    return _dtw_align(None, np.asarray(emb_a, np.float64), np.asarray(emb_b, np.float64)).matches


def _diagonal(n: int, m: int) -> np.ndarray:
    """Frame ``i`` of ``a`` matched to frame ``i (m - 1) / (n - 1)`` of ``b``: time only, no content."""
    return np.rint(np.arange(n) * (m - 1) / max(n - 1, 1)).astype(np.int64)


def _align_acc(matches, y_test, pairs) -> float:
    from skalign.metrics import alignment_accuracy

    return float(np.mean([alignment_accuracy(m, y_test[i], y_test[j]) for m, (i, j) in zip(matches, pairs)]))


def held_out(emb_train, emb_test, y_train, y_test, est=None) -> dict:
    """Tau, phase accuracy with 10 % of the labels, alignment accuracy by DTW (and
    by the estimator's VAOT decoder, balanced and relaxed, when ``est`` is given)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from skalign.metrics import kendalls_tau, phase_classification_accuracy

    pairs = _pairs(len(emb_test))
    pc = [phase_classification_accuracy(emb_train, y_train, emb_test, y_test, fractions=(LABEL_FRACTION,),
                                        random_state=r)[LABEL_FRACTION] for r in range(PC_DRAWS)]
    row = {"tau": kendalls_tau(emb_test), "pc": float(np.mean(pc)),
           "align_dtw": _align_acc([_dtw_matches(emb_test[i], emb_test[j]) for i, j in pairs], y_test, pairs)}
    if est is None:
        return row
    saved = est.get_params()["align_lambda"], est.get_params()["decoder"]
    for key, lam in (("align_vaot", None), ("align_vaot_rel", RELAXED_LAMBDA)):
        est.set_params(align_lambda=lam, decoder="vaot")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            # What est.align(a, b) runs once a and b are embedded (the embeddings are reused).
            matches = [est._align_embeddings(emb_test[i], emb_test[j]).matches for i, j in pairs]
        row[key] = _align_acc(matches, y_test, pairs)
        row[key.replace("align", "matched")] = float(np.mean([np.mean(m >= 0) for m in matches]))
        row[key.replace("align", "warnings")] = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    est.set_params(align_lambda=saved[0], decoder=saved[1])
    return row


def accuracy(paths: list[str], labels: list[np.ndarray], cache: Path, args) -> dict:
    from skalign import FrameFeatures, VideoAligner
    from skalign.io import read_video

    n_train = max(2, int(round(0.75 * len(paths))))
    n_train = min(n_train, len(paths) - 2)
    train, test = paths[:n_train], paths[n_train:]
    y_train, y_test = labels[:n_train], labels[n_train:]
    pairs = _pairs(len(test))
    stage = FrameFeatures(device=args.device, cache_dir=str(cache)).fit()
    t0 = time.perf_counter()
    feats = stage.transform(paths)
    out = {"n_train": n_train, "n_test": len(test), "pairs": len(pairs),
           "features_from_cache": int(stage.n_cached_), "features_s": time.perf_counter() - t0}
    out["diagonal"] = {"align_dtw": _align_acc([_diagonal(len(y_test[i]), len(y_test[j])) for i, j in pairs],
                                               y_test, pairs)}
    t0 = time.perf_counter()
    out["raw"] = held_out(feats[:n_train], feats[n_train:], y_train, y_test)
    out["raw"]["eval_s"] = time.perf_counter() - t0
    print(f"  raw features: {out['raw']['eval_s']:.0f} s", flush=True)

    t0 = time.perf_counter()
    small = [read_video(p, size=CONV_SIZE) for p in paths]
    out["decode_64_s"] = time.perf_counter() - t0
    # The library's defaults but for the epochs: n_jobs=None (one CPU thread), as skalign fit.
    common = dict(method="vaot", max_epochs=args.epochs, device=args.device)
    rows = {
        "temporal": (lambda s: VideoAligner(features=FrameFeatures(device=args.device, cache_dir=str(cache)),
                                            random_state=s, **common), train, test),
        "conv": (lambda s: VideoAligner(encoder="conv", features=None, random_state=s, **common),
                 small[:n_train], small[n_train:]),
    }
    for name, (make, x_train, x_test) in rows.items():
        out[name] = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            est = make(seed).fit(x_train)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            row = held_out(est.transform(x_train), est.transform(x_test), y_train, y_test, est)
            row.update(fit_s=fit_s, eval_s=time.perf_counter() - t0)
            out[name].append(row)
            print(f"  {name} seed {seed}: fit {fit_s:.0f} s, eval {row['eval_s']:.0f} s", flush=True)
    return out


# ------------------------------------------------------------------ printing
def _mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{values.mean():.3f}+-{values.std():.3f}"


def print_report(res: dict, args) -> None:
    rend, dec, net, fits, acc = (res[k] for k in ("render", "decode", "backbone", "fits", "accuracy"))
    print(f"\n=== Video pipeline: {args.n_videos} mp4 files of {args.n_frames} frames, {WIDTH}x{HEIGHT} "
          f"at {FPS} fps; device {args.device}, {args.threads} threads, {args.epochs} epochs ===")
    env = res["env"]
    print(f"torch {env['torch']}, {env['cpus']} CPUs seen; load average (1 min) {env['load_start']:.2f} at "
          f"the start, {env['load_end']:.2f} at the end (this run alone adds about {args.threads}: more "
          "means other work shared the machine)")
    print("\n[render]")
    print(f"  {'wall (s)':32s} {rend['wall_s']:10.1f}   ({args.threads} worker processes)")
    print(f"  {'drawing, CPU (s)':32s} {rend['draw_cpu_s']:10.1f}")
    print(f"  {'letterbox + encoding, CPU (s)':32s} {rend['encode_cpu_s']:10.1f}")
    print(f"  {'files (MB)':32s} {rend['mb']:10.1f}")
    print(f"\n[decode, frames/s over {dec['files']} files]")
    print(f"  {'iter_frames(size=224)':32s} {dec['iter_frames_224_fps']:10.0f}")
    print(f"  {'read_video() at 640x360':32s} {dec['read_video_full_fps']:10.0f}")
    print(f"  {'ratio iter_frames / read_video':32s} {dec['iter_frames_224_fps'] / dec['read_video_full_fps']:10.2f}")
    print(f"\n[backbone: MobileNetV2 at 224x224, {net['frames']} frames, batch {net['batch']}, "
          f"{net['n_features']} features, frames/s]")
    print(f"  {f'{args.threads} threads':32s} {net['threads_fps']:10.1f}")
    if "one_thread_fps" in net:
        print(f"  {'1 thread (estimators n_jobs=None)':32s} {net['one_thread_fps']:10.1f}")
        print(f"  {f'ratio {args.threads} threads / 1':32s} {net['threads_fps'] / net['one_thread_fps']:10.2f}")
    small, full, again = fits["quarter"], fits["full"], fits["cached"]
    print("\n[skalign fit subprocess: default settings, fresh --cache-dir]")
    print(f"  {'run':34s} {'videos':>7s} {'wall (s)':>10s} {'peak RSS (MB)':>14s}")
    for label, f in (("first, n/4 videos", small), ("first, n videos", full), ("second, n videos (cached)", again)):
        print(f"  {label:34s} {f['videos']:7d} {f['wall_s']:10.1f} {f['peak_rss_mb']:14.0f}")
    ratio = full["peak_rss_mb"] / small["peak_rss_mb"]
    ok = "yes" if max(small["peak_rss_mb"], full["peak_rss_mb"]) < MEMORY_TARGET_MB else "NO"
    print(f"  peak RSS n / (n/4): {ratio:.2f} (flat = 1.00); under {MEMORY_TARGET_MB} MB: {ok}")
    print(f"  wall first / second (cached), n videos: {full['wall_s'] / again['wall_s']:.1f} x "
          f"({full['wall_s']:.1f} s -> {again['wall_s']:.1f} s)")
    print(f"\n[accuracy on held-out videos: train {acc['n_train']}, test {acc['n_test']} "
          f"({acc['pairs']} ordered pairs); labels for scoring only]")
    print(f"  features read back from the fit's cache: {acc['features_from_cache']} of "
          f"{acc['n_train'] + acc['n_test']} videos ({acc['features_s']:.1f} s); "
          f"64x64 decode for conv: {acc['decode_64_s']:.1f} s")
    print(f"  learned rows: mean+-std over {args.seeds} seed(s); pc@0.1: SVM on the labels of "
          f"{max(1, int(np.floor(LABEL_FRACTION * acc['n_train'] + 1e-9)))} training video(s), "
          f"mean of {PC_DRAWS} draws")
    print("  align: share of frames of a matched to a frame of b of the same phase, mean over the pairs;\n"
          "  decoders: DTW = exact DTW on the cosine cost of the row's embeddings; VAOT = VideoAligner.align\n"
          f"  (balanced, virtual frame); VAOT-rel = the same with align_lambda={RELAXED_LAMBDA}; "
          "diagonal: frame i of a -> frame i (m-1)/(n-1) of b")
    cols = ["tau", "pc", "align_dtw", "align_vaot", "align_vaot_rel", "matched_vaot", "fit_s"]
    heads = ["tau", "pc@0.1", "align DTW", "align VAOT", "align VAOT-rel", "matched VAOT", "fit (s)"]
    rows = [("diagonal", "diagonal (time only, no video)", [acc["diagonal"]]),
            ("raw", "raw MobileNetV2 features", [acc["raw"]]),
            ("temporal", "vaot, temporal head (default)", acc["temporal"]),
            ("conv", f"vaot, conv {CONV_SIZE}x{CONV_SIZE} from scratch", acc["conv"])]
    width = 15
    print(f"  {'row':32s} " + " ".join(f"{h:>{width}s}" for h in heads))
    for _, label, values in rows:
        cells = [_mean_std([v[c] for v in values]) if c in values[0] else "-" for c in cols]
        print(f"  {label:32s} " + " ".join(f"{c:>{width}s}" for c in cells))
    warned = {key: sum(v.get("warnings_vaot", 0) + v.get("warnings_vaot_rel", 0) for v in acc[key])
              for key in ("temporal", "conv")}
    if any(warned.values()):
        print(f"  ConvergenceWarnings of the VAOT decoders: {warned}")
    print("\n  learned minus raw features (mean over seeds; negative = worse than the untrained backbone):")
    comps = [("tau", "tau", "tau"), ("pc@0.1", "pc", "pc"), ("align DTW", "align_dtw", "align_dtw"),
             ("align VAOT vs raw DTW", "align_vaot", "align_dtw"),
             ("align VAOT-rel vs raw DTW", "align_vaot_rel", "align_dtw")]
    print(f"  {'row':32s} " + " ".join(f"{c[0]:>26s}" for c in comps))
    for key, label, values in rows[2:]:
        cells = []
        for _, mine, theirs in comps:
            d = np.mean([v[mine] for v in values]) - acc["raw"][theirs]
            cells.append(f"{d:+.3f} {'better' if d > 0 else 'WORSE' if d < 0 else 'same'}")
        print(f"  {label:32s} " + " ".join(f"{c:>26s}" for c in cells))


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-videos", type=int, default=None, help="videos rendered (default 40; --quick 8)")
    parser.add_argument("--n-frames", type=int, default=None, help="frames per video (default 300; --quick 60)")
    parser.add_argument("--workdir", default=None,
                        help="folder whose bench_video_pipeline/ subfolder (replaced) holds the videos, caches "
                             "and models, removed at the end unless --keep (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the files written under --workdir")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads here, OMP_NUM_THREADS of the fits")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 10; --quick 3)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="training seeds of the learned rows (default 2; --quick 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the rendered videos")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 8 videos of 60 frames")
    parser.add_argument("--json", default=None, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    quick = {"n_videos": 8, "n_frames": 60, "epochs": 3, "seeds": 1}
    full = {"n_videos": 40, "n_frames": 300, "epochs": 10, "seeds": 2}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.n_videos < 6:
        parser.error("--n-videos must be at least 6 (n/4 >= 2 for a fit, 2 held-out videos).")
    if args.n_frames < 4 * N_PHASES or args.threads < 1 or args.epochs < 1 or args.seeds < 1:
        parser.error(f"--n-frames must be at least {4 * N_PHASES}; --threads, --epochs, --seeds at least 1.")

    import torch

    from skalign._frame_features import WeightsNotFoundError, default_weights

    try:
        default_weights("mobilenet_v2")
    except WeightsNotFoundError as err:
        print(f"bench_video_pipeline: {err}", file=sys.stderr)
        return 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"bench_video_pipeline: --device {args.device}, but torch sees no CUDA device.", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    made_tmp = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="skalign-bench-video-")) if made_tmp else Path(args.workdir)
    root = workdir / "bench_video_pipeline"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    t_start = time.perf_counter()
    res: dict = {"args": vars(args),
                 "env": {"torch": torch.__version__, "cpus": os.cpu_count(), "python": sys.version.split()[0],
                         "load_start": os.getloadavg()[0]}}
    try:
        print(f"workdir {root}", flush=True)
        print("rendering ...", flush=True)
        rend = render(root / "videos", args.n_videos, args.n_frames, args.seed, args.threads)
        paths = rend.pop("paths")
        labels = [np.load(Path(p).with_suffix(".npy")) for p in paths]
        res["render"] = rend
        print(f"  {rend['wall_s']:.0f} s", flush=True)
        print("decode ...", flush=True)
        res["decode"] = bench_decode(paths[:DECODE_FILES])
        print("backbone ...", flush=True)
        res["backbone"] = bench_backbone(paths[0], args.device, args.threads)
        n_small = max(2, args.n_videos // 4)
        fits = {}
        print(f"skalign fit, {n_small} videos ...", flush=True)
        fits["quarter"] = run_fit(paths[:n_small], root / "cache_quarter", root / "quarter.skalign",
                                  args.epochs, args.device, args.threads)
        print(f"  {fits['quarter']['wall_s']:.0f} s", flush=True)
        print(f"skalign fit, {args.n_videos} videos ...", flush=True)
        fits["full"] = run_fit(paths, root / "cache_full", root / "full.skalign",
                               args.epochs, args.device, args.threads)
        print(f"  {fits['full']['wall_s']:.0f} s", flush=True)
        print(f"skalign fit, {args.n_videos} videos again (cached) ...", flush=True)
        fits["cached"] = run_fit(paths, root / "cache_full", root / "full_again.skalign",
                                 args.epochs, args.device, args.threads)
        print(f"  {fits['cached']['wall_s']:.0f} s", flush=True)
        res["fits"] = fits
        print("accuracy ...", flush=True)
        res["accuracy"] = accuracy(paths, labels, root / "cache_full", args)
        res["wall_s"] = time.perf_counter() - t_start
        res["env"]["load_end"] = os.getloadavg()[0]
        print_report(res, args)
        print(f"\ntotal {res['wall_s']:.0f} s")
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1, default=float))
            print(f"wrote {args.json}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir if made_tmp else root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
