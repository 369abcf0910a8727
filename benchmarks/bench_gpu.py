"""GPU figures of skalign: solvers, dynamic programs, training, backbones.

Runs the same measurements on ``--device cuda`` or ``--device cpu`` (with
``--threads`` intra-op threads, 2 by default, as on a 2-core laptop), so that
a GPU run and a CPU run of this script give figures to put side by side:

1. ``vaot`` (``skalign.ot.vaot``, paper defaults, ``epsilon=0.07``, 25 outer
   iterations, float32, no autocast) on the cosine cost of two smooth random
   feature sequences, N = M in ``--vaot-sizes``, and a batch of 64 pairs of
   256 frames: median time of the calls after a first one, iterations, peak
   device memory.
2. ``soft_dtw`` (gamma 1) and ``smooth_dtw`` (gamma 0.1), forward and
   backward through the squared Euclidean cost of two 128-dimensional
   sequences, N = M in ``--dp-sizes``, and a batch of 64 pairs of 256 frames.
   On CUDA the peer ``pysdtw.SoftDTW(use_cuda=True)`` runs in the same
   process where installed (its kernels take at most 1024 frames).
3. Training ``VideoAligner(method="vaot")``:

   - ``features``: cached per-frame features (``--train-videos`` videos of
     300 frames, 1024 dimensions, the size of ResNet-50 conv4 features),
     ``batch_size=64`` pairs of ``n_frames=256`` frames a step, MLP encoder;
   - ``frames``: ``uint8`` frames at ``--frame-size`` pixels through a
     trainable ``MobileNetV2Backbone`` and the temporal head
     (``TemporalEmbedder``, two context frames), 4 pairs of 32 frames a step.

   The estimator runs with ``n_jobs`` set to ``--threads``. After a
   warm-up fit of one epoch, each is fitted twice with the same seed, for
   ``e1`` and ``e2`` epochs; the time of a step is the difference over the
   extra steps, so that set-up, compilation and the final embedding are left
   out. On CUDA with mixed precision off (``precision="32"``) and on
   (``"bf16"``).
4. Frozen backbones: ``skalign.engine.cache_features`` (the once-per-frame
   feature pass of ``fit`` with a frozen backbone) on 224 x 224 frames,
   MobileNetV2 and, where torchvision is installed, ResNet-50 up to conv4
   (``layer3``); frames per second, float32 and under bfloat16 autocast.

Run: ``python benchmarks/bench_gpu.py --device cuda --json gpu.json`` on the
GPU machine, then ``python benchmarks/bench_gpu.py --device cpu --json cpu.json``
on the CPU to compare with (``--sections`` picks sections). The CPU run
takes several minutes on 2 cores: pass ``--quick`` there to time fewer calls.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np
import torch

from skalign import VideoAligner
from skalign.encoders import MobileNetV2Backbone, ResNet50Backbone, TemporalEmbedder
from skalign.engine import cache_features
from skalign.ot import vaot
from skalign.sequence import smooth_dtw, soft_dtw

SECTIONS = ("vaot", "dp", "train", "backbone")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], Any], device: torch.device, repeat: int) -> tuple[float, list[float], Any]:
    """First call's time, the times of ``repeat`` further calls, the last result."""
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return first, times, out


def _peak_reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mib(device: torch.device) -> float | None:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return None


def _smooth_features(n: int, d: int, g: torch.Generator, batch: int = 1) -> torch.Tensor:
    """Unit rows of a random walk: neighbouring frames are alike, as in video."""
    x = torch.randn(batch, n, d, generator=g).cumsum(1) / np.sqrt(max(n, 1) / 64)
    x = x + torch.randn(batch, n, d, generator=g)
    return torch.nn.functional.normalize(x, dim=-1)


def _print_row(cells: list[Any], widths: list[int]) -> None:
    out = []
    for c, w in zip(cells, widths):
        if isinstance(c, float):
            c = f"{c:.4g}"
        out.append(f"{str(c):>{w}}")
    print(" | ".join(out), flush=True)


def _problems(sizes: list[int], batched: bool) -> list[tuple[str, int, int]]:
    """(label, batch, frames): one pair per size, then 64 pairs of 256 frames."""
    return [(f"{n} x {n}", 1, n) for n in sizes] + ([("64 x 256 x 256", 64, 256)] if batched else [])


# --------------------------------------------------------------------- vaot
def bench_vaot(device: torch.device, sizes: list[int], repeat: int, batched: bool) -> list[dict]:
    rows = []
    widths = [14, 10, 10, 10, 8, 10, 10]
    _print_row(["problem", "median ms", "min ms", "first ms", "n_iter", "converged", "peak MiB"], widths)
    g = torch.Generator().manual_seed(0)
    problems = _problems(sizes, batched)
    for label, batch, n in problems:
        x = _smooth_features(n, 64, g, batch).to(device)
        y = _smooth_features(n, 64, g, batch).to(device)
        cost = (1.0 - x @ y.transpose(1, 2)).contiguous()
        if batch == 1:
            cost = cost[0]
        del x, y
        _peak_reset(device)
        reps = repeat if n <= 4096 else max(1, min(repeat, 3))
        first, times, res = _timed(lambda c=cost: vaot(c, epsilon=0.07), device, reps)
        row = dict(section="vaot", problem=label, batch=batch, n=n, median_s=statistics.median(times),
                   min_s=min(times), first_s=first, n_iter=int(torch.as_tensor(res.n_iter).max()),
                   converged=float(torch.as_tensor(res.converged).float().mean()), peak_mib=_peak_mib(device))
        _print_row([label, 1e3 * row["median_s"], 1e3 * row["min_s"], 1e3 * first, row["n_iter"],
                    row["converged"], row["peak_mib"] or "-"], widths)
        rows.append(row)
        del cost, res
    return rows


def profile_vaot(device: torch.device, n: int, rows: int = 15) -> None:
    """Where one ``vaot`` call at ``n`` frames spends its time (torch.profiler):
    the operators by device time, with their call counts, and the host time
    spent waiting on the device (synchronisations)."""
    from torch.profiler import ProfilerActivity, profile

    g = torch.Generator().manual_seed(0)
    x = _smooth_features(n, 64, g)[0].to(device)
    y = _smooth_features(n, 64, g)[0].to(device)
    cost = (1.0 - x @ y.T).contiguous()
    vaot(cost, epsilon=0.07)
    _sync(device)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=acts) as prof:
        vaot(cost, epsilon=0.07)
        _sync(device)
    keys = ["self_device_time_total", "self_cuda_time_total"] if device.type == "cuda" else ["self_cpu_time_total"]
    for key in keys:
        try:
            print(prof.key_averages().table(sort_by=key, row_limit=rows), flush=True)
            break
        except (AttributeError, KeyError, ValueError):
            continue
    events = prof.key_averages()
    launches = sum(e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC"))
    syncs = sum(e.count for e in events if "Synchronize" in e.key or e.key == "cudaMemcpyAsync")
    print(f"vaot {n} x {n}: {launches} kernel launches, {syncs} host-device synchronisations or copies", flush=True)


# ----------------------------------------------------------------------- dp
def _pysdtw_run(device: torch.device) -> Callable | None:
    if device.type != "cuda":
        return None
    try:
        import pysdtw
    except ImportError:
        return None
    loss = pysdtw.SoftDTW(gamma=1.0, use_cuda=True)

    def run(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = x.clone().requires_grad_(True)
        y = y.clone().requires_grad_(True)
        loss(x, y).sum().backward()
        return x.grad

    return run


def bench_dp(device: torch.device, sizes: list[int], repeat: int, batched: bool) -> list[dict]:
    rows = []
    widths = [16, 12, 10, 10, 10, 12, 10]
    _print_row(["problem", "function", "median ms", "min ms", "first ms", "pysdtw ms", "peak MiB"], widths)
    g = torch.Generator().manual_seed(1)
    problems = _problems(sizes, batched)
    peer = _pysdtw_run(device)
    for label, batch, n in problems:
        x0 = torch.randn(batch, n, 128, generator=g).to(device)
        y0 = (torch.randn(batch, n, 128, generator=g) + 0.5).to(device)
        for name, fn, gamma in (("soft_dtw", soft_dtw, 1.0), ("smooth_dtw", smooth_dtw, 0.1)):
            def run(fn=fn, gamma=gamma):
                x = x0.clone().requires_grad_(True)
                y = y0.clone().requires_grad_(True)
                cost = torch.cdist(x, y).square()
                fn(cost, gamma).value.sum().backward()
                return x.grad

            _peak_reset(device)
            reps = repeat if n <= 1024 else 1
            first, times, grad = _timed(run, device, reps)
            if not bool(torch.isfinite(grad).all()):
                raise RuntimeError(f"{name} at {label}: non-finite gradient on {device}")
            peer_ms = None
            if peer is not None and name == "soft_dtw" and n <= 1024:
                try:
                    _, ptimes, _ = _timed(lambda: peer(x0, y0), device, reps)
                    peer_ms = 1e3 * statistics.median(ptimes)
                except Exception as exc:  # the peer's CUDA kernels may not build here
                    print(f"pysdtw failed ({type(exc).__name__}: {exc}); left out", flush=True)
                    peer = None
            row = dict(section="dp", problem=label, function=name, batch=batch, n=n,
                       median_s=statistics.median(times), min_s=min(times), first_s=first,
                       pysdtw_s=None if peer_ms is None else peer_ms / 1e3, peak_mib=_peak_mib(device))
            _print_row([label, name, 1e3 * row["median_s"], 1e3 * row["min_s"], 1e3 * first,
                        "-" if peer_ms is None else peer_ms, row["peak_mib"] or "-"], widths)
            rows.append(row)
    return rows


# -------------------------------------------------------------------- train
def _fit_seconds(make: Callable[[int], VideoAligner], videos: list, epochs: int) -> tuple[float, VideoAligner]:
    est = make(epochs)
    t0 = time.perf_counter()
    est.fit(videos)
    return time.perf_counter() - t0, est


def bench_train(device: torch.device, precisions: list[str], quick: bool, frame_size: int,
                n_videos: int, n_jobs: int) -> list[dict]:
    rows = []
    widths = [9, 9, 16, 10, 12, 8]
    _print_row(["input", "precision", "pairs x frames", "step ms", "frames/s", "loss"], widths)
    g = torch.Generator().manual_seed(2)
    feats = [(_smooth_features(300, 1024, g)[0] * 8).numpy() for _ in range(n_videos)]
    rgb = [torch.randint(0, 256, (64, frame_size, frame_size, 3), generator=g, dtype=torch.uint8).numpy()
           for _ in range(8)]
    configs = [
        ("features", feats, dict(encoder="mlp", batch_size=64, n_frames=256)),
        ("frames", rgb, dict(encoder=TemporalEmbedder(MobileNetV2Backbone(), freeze_backbone=False,
                                                       context_stride=4), batch_size=4, n_frames=32)),
    ]
    for kind, videos, opts in configs:
        steps_per_epoch = -(-len(videos) // opts["batch_size"])
        e1, e2 = (1, 3) if quick or device.type == "cpu" else (2, 7)
        for precision in precisions:
            def make(epochs, opts=opts, precision=precision):
                return VideoAligner(method="vaot", max_epochs=epochs, device=str(device), precision=precision,
                                    random_state=0, n_jobs=n_jobs, **opts)

            _fit_seconds(make, videos, 1)  # warm-up: compiled kernels, allocator, autotuning
            t1, _ = _fit_seconds(make, videos, e1)
            t2, est = _fit_seconds(make, videos, e2)
            step = (t2 - t1) / ((e2 - e1) * steps_per_epoch)
            frames = 2 * opts["batch_size"] * opts["n_frames"]
            row = dict(section="train", input=kind, precision=precision, batch_size=opts["batch_size"],
                       n_frames=opts["n_frames"], step_s=step, frames_per_s=frames / step,
                       final_loss=float(est.history_[-1]["loss"]), epochs=(e1, e2),
                       steps=(e2 - e1) * steps_per_epoch)
            _print_row([kind, precision, f"{opts['batch_size']} x {opts['n_frames']}", 1e3 * step,
                        frames / step, row["final_loss"]], widths)
            rows.append(row)
    return rows


# ----------------------------------------------------------------- backbone
def bench_backbone(device: torch.device, quick: bool) -> list[dict]:
    rows = []
    widths = [12, 9, 8, 12, 10]
    _print_row(["backbone", "autocast", "frames", "frames/s", "first s"], widths)
    n = 64 if device.type == "cpu" else 1024
    g = torch.Generator().manual_seed(3)
    video = torch.randint(0, 256, (n, 224, 224, 3), generator=g, dtype=torch.uint8)
    nets: list[tuple[str, Callable[[], torch.nn.Module]]] = [("mobilenet_v2", MobileNetV2Backbone)]
    try:
        import torchvision  # noqa: F401
        nets.append(("resnet50_l3", lambda: ResNet50Backbone(layer="layer3")))
    except ImportError:
        print("torchvision not installed: ResNet-50 skipped", flush=True)
    modes = ["off", "bf16"] if device.type == "cuda" else ["off"]
    for name, build in nets:
        net = build()
        for mode in modes:
            ctx = (torch.autocast("cuda", dtype=torch.bfloat16) if mode == "bf16"
                   else contextlib.nullcontext())

            def run(net=net, ctx=ctx):
                with ctx:
                    return cache_features(net, [video], batch_size=128, device=device)

            first, times, _ = _timed(run, device, 1 if quick or device.type == "cpu" else 3)
            fps = n / statistics.median(times)
            rows.append(dict(section="backbone", backbone=name, autocast=mode, frames=n,
                             frames_per_s=fps, first_s=first))
            _print_row([name, mode, n, fps, first], widths)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2,
                        help="CPU threads (intra-op, numba; the estimators' n_jobs)")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--vaot-sizes", default="1024,4096,16384")
    parser.add_argument("--dp-sizes", default="1024,4096")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--train-videos", type=int, default=128)
    parser.add_argument("--frame-size", type=int, default=112)
    parser.add_argument("--quick", action="store_true", help="fewer calls and epochs")
    parser.add_argument("--json", help="write every row to this JSON file")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile one vaot call at N frames (torch.profiler)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
        try:
            import numba
            numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
        except ImportError:
            pass
        where = f"cpu, {torch.get_num_threads()} threads"
    else:
        if not torch.cuda.is_available():
            print("no CUDA device: run with --device cpu", file=sys.stderr)
            return 2
        where = f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    print(f"# bench_gpu on {where}", flush=True)
    repeat = 2 if args.quick else args.repeat
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    rows: list[dict] = []
    sizes = lambda s: [int(v) for v in s.split(",") if v]  # noqa: E731
    for section in sections:
        print(f"\n## {section}", flush=True)
        t0 = time.perf_counter()
        if section == "vaot":
            rows += bench_vaot(device, sizes(args.vaot_sizes), repeat, batched=True)
            if args.profile:
                profile_vaot(device, args.profile)
        elif section == "dp":
            rows += bench_dp(device, sizes(args.dp_sizes), repeat, batched=True)
        elif section == "train":
            precisions = ["32", "bf16"] if device.type == "cuda" else ["32"]
            rows += bench_train(device, precisions, args.quick, args.frame_size, args.train_videos,
                                n_jobs=args.threads)
        elif section == "backbone":
            rows += bench_backbone(device, args.quick)
        print(f"({section}: {time.perf_counter() - t0:.1f} s)", flush=True)
        if args.json:
            tmp = f"{args.json}.tmp"
            with open(tmp, "w") as fh:
                json.dump(dict(device=where, rows=rows), fh, indent=1)
            os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
