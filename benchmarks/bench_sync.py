"""write_synced_video: speed and peak memory of a grid of many videos.

Renders ``--n-videos`` synthetic videos of 640 x 360 pixels and
``--n-frames`` frames each at 30 fps (a disc moving along a path over a
static textured background, each video at its own pace: frame ``k`` of video
``i`` shows the path at progress ``(k / (n - 1)) ** g_i``, ``g_i`` between
0.7 and 1.4), encoded with ``skalign.io.write_video`` (CRF 18) into a
temporary folder; rendering is not timed. The timeline has ``--n-frames``
steps; video 0 is its reference (frame ``t`` at step ``t``) and video ``i``
shows, at step ``t``, the frame at the same progress, ``round((n - 1) (t /
(T - 1)) ** (1 / g_i))``: monotone maps that hold frames (slow videos) and
skip frames (fast ones), with one or two runs of 10-25 steps of -1 in every
video but the reference.

Then, each in a fresh Python process (so that its peak memory is its own):

- ``writer``: ``write_synced_video(files, maps, out, tile=180)``, 8 videos
  in a 3 x 3 grid of 320 x 180 tiles (960 x 540 frames); figures: wall time
  of the call, timeline steps written a second, and the process's peak
  resident memory (``ru_maxrss``);
- ``writer of the first quarter``: the same call on the first quarter of
  the timeline: its peak memory beside the writer's shows whether memory
  grows with the length written (it should not);
- ``import floor``: a process that only imports ``skalign``,
  ``skalign.io`` and ``av``: its peak resident memory, the part of the
  writer's that does not depend on the videos.

Beside them: the memory the videos would take decoded whole (``n_videos x
n_frames x 360 x 640 x 3`` bytes, what ``read_video`` of every file would
hold), and its ratio to the writer's memory above the floor. The output is
checked (frame count and size with ``video_info``).

``--threads`` sets the h264 encoder's threads (``threads=`` of
``write_synced_video``; default: FFmpeg's choice) and the OpenMP/MKL/torch
thread variables of the child processes (the writer imports no torch).

Run: ``python benchmarks/bench_sync.py [--n-videos 8] [--n-frames 300] [--busy 2]
[--threads N] [--out-json FILE]`` (about 20 s on 2 CPU cores with the
defaults, most of it rendering).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS = 640, 360, 30
TILE = 180
SEED = 0

# ---------------------------------------------------------------- rendering


def render(folder: Path, n_videos: int, n_frames: int, rng: np.random.Generator) -> tuple[list, list]:
    """Write the videos; return their paths and pace exponents."""
    from skalign.io import write_video

    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    paths, paces = [], []
    for i in range(n_videos):
        g = 1.0 if i == 0 else float(rng.uniform(0.7, 1.4))
        base = np.empty((HEIGHT, WIDTH, 3), dtype=np.float32)
        hue = rng.uniform(0, 2 * np.pi)
        for c in range(3):
            base[..., c] = 90 + 50 * np.sin(hue + 2.1 * c + xx / WIDTH * 3.0) + 20 * yy / HEIGHT
        base += rng.normal(0, 6, size=(HEIGHT, WIDTH, 1)).astype(np.float32)  # static texture
        background = np.clip(base, 0, 255).astype(np.uint8)
        disc_rgb = np.array([230, 60 + 20 * i % 160, 40], dtype=np.uint8)
        frames = np.empty((n_frames, HEIGHT, WIDTH, 3), dtype=np.uint8)
        for k in range(n_frames):
            u = (k / max(n_frames - 1, 1)) ** g  # progress along the process
            cx = 80 + 480 * u
            cy = 180 + 110 * math.sin(2 * math.pi * u)
            frames[k] = background
            frames[k][(xx - cx) ** 2 + (yy - cy) ** 2 < 40.0**2] = disc_rgb
            frames[k, HEIGHT - 12:, : int(WIDTH * u)] = 255  # a progress bar
        paths.append(write_video(folder / f"video{i}.mp4", frames, FPS))
        paces.append(g)
        del frames
    return paths, paces


def frame_maps(paces: list[float], n_frames: int, n_steps: int, rng: np.random.Generator) -> list:
    """Per video, the frame at the reference's progress at every step, with -1 runs."""
    t = np.arange(n_steps) / max(n_steps - 1, 1)
    maps = []
    for i, g in enumerate(paces):
        m = np.rint((n_frames - 1) * t ** (1.0 / g)).astype(np.int64)
        if i > 0:
            for _ in range(int(rng.integers(1, 3))):
                length = int(rng.integers(10, 26))
                start = int(rng.integers(0, max(n_steps - length, 1)))
                m[start:start + length] = -1
        maps.append(m)
    return maps


# ---------------------------------------------------------------- children


def _child(spec_file: str) -> None:  # pragma: no cover - runs in a subprocess
    import resource

    spec = json.loads(Path(spec_file).read_text())
    import av  # noqa: F401

    import skalign
    import skalign.io

    out: dict = {}
    if spec["mode"] == "write":
        with np.load(spec["maps"]) as data:
            maps = [data[f"m{i}"][: spec["n_steps"]] for i in range(len(data.files))]
        t0 = time.perf_counter()
        skalign.io.write_synced_video(
            spec["videos"], maps, spec["out"], tile=spec["tile"], threads=spec["threads"],
            overwrite=True,
        )
        out["wall"] = time.perf_counter() - t0
    out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    status = Path("/proc/self/status")
    if status.exists():  # Linux: the peak of this process's own memory map, a cross-check
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                out["vmhwm_kb"] = int(line.split()[1])
    print("@@" + json.dumps(out), flush=True)


# Linux gives a process that execs the peak resident memory of the process
# it was started from (ru_maxrss survives exec), so a child started by this
# script would report this script's own peak (the rendering). A tiny
# launcher between them gives the child the launcher's peak instead, a bare
# interpreter's, below anything the child imports.
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def run_child(spec: dict, folder: Path, threads: int | None) -> dict:
    spec_file = folder / f"spec_{spec['mode']}.json"
    spec_file.write_text(json.dumps(spec))
    env = dict(os.environ)
    if threads is not None:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[name] = str(threads)
    proc = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, sys.executable, __file__, "--child", str(spec_file)],
        env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the {spec['mode']} process failed:\n{proc.stderr[-3000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith("@@")][-1]
    return json.loads(line[2:])


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-videos", type=int, default=8)
    parser.add_argument("--n-frames", type=int, default=300, help="frames per video and steps")
    parser.add_argument("--threads", type=int, default=None,
                        help="h264 encoder threads (and OMP/MKL variables); default: FFmpeg's choice")
    parser.add_argument("--out-json", default=None, help="also write the figures to this file")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="then write again while N processes spin on the cores (shared machines): "
                             "steps a second under load, FFmpeg's threads and one thread, as ratios "
                             "to the quiet run")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child)
        return

    from skalign.io import video_info

    rng = np.random.default_rng(SEED)
    n_videos, n_frames = args.n_videos, args.n_frames
    with tempfile.TemporaryDirectory(prefix="bench_sync_") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        paths, paces = render(folder, n_videos, n_frames, rng)
        t_render = time.perf_counter() - t0
        maps = frame_maps(paces, n_frames, n_frames, rng)
        np.savez(folder / "maps.npz", **{f"m{i}": m for i, m in enumerate(maps)})
        out = folder / "synced.mp4"
        spec = {"mode": "write", "videos": [str(p) for p in paths], "maps": str(folder / "maps.npz"),
                "out": str(out), "tile": TILE, "threads": args.threads, "n_steps": n_frames // 4}
        quarter = run_child(spec, folder, args.threads)
        writer = run_child({**spec, "n_steps": n_frames}, folder, args.threads)
        floor = run_child({"mode": "floor"}, folder, args.threads)
        info = video_info(out)
        loaded = {}
        if args.busy:
            spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                        for _ in range(args.busy)]
            try:
                for threads in (args.threads, 1):
                    loaded[threads] = run_child({**spec, "n_steps": n_frames, "threads": threads},
                                                folder, threads)["wall"]
            finally:
                for p in spinners:
                    p.kill()
                    p.wait()

    n_steps = n_frames
    whole = n_videos * n_frames * HEIGHT * WIDTH * 3
    mb = 1024.0**2
    writer_mb = writer["maxrss_kb"] * 1024 / mb
    floor_mb = floor["maxrss_kb"] * 1024 / mb
    above = writer_mb - floor_mb
    quarter_mb = quarter["maxrss_kb"] * 1024 / mb
    held = sum(int((m == -1).sum()) for m in maps)
    figures = {
        "n_videos": n_videos, "n_frames": n_frames, "n_steps": n_steps, "tile": TILE,
        "threads": args.threads, "output_frames": info.n_frames,
        "output_size": [info.width, info.height],
        "render_seconds": t_render, "wall_seconds": writer["wall"],
        "steps_per_second": n_steps / writer["wall"],
        "peak_rss_writer_mb": writer_mb, "peak_rss_writer_quarter_mb": quarter_mb,
        "peak_rss_import_floor_mb": floor_mb,
        "writer_above_floor_mb": above, "decoded_whole_mb": whole / mb,
        "whole_over_writer_above_floor": (whole / mb) / above if above > 0 else float("inf"),
        "missing_entries": held,
    }
    print(f"\nwrite_synced_video: {n_videos} videos of {WIDTH}x{HEIGHT}, {n_frames} frames, "
          f"{n_steps} steps ({held} entries -1), tile={TILE} -> {info.width}x{info.height}, "
          f"{info.n_frames} frames written (threads={args.threads or 'FFmpeg default'}; "
          f"rendering took {t_render:.1f}s, not counted)")
    rows = [
        ("wall time of the call (s)", f"{writer['wall']:.2f}"),
        ("steps written per second", f"{n_steps / writer['wall']:.1f}"),
        ("peak RSS, writer process (MB)", f"{writer_mb:.1f}"),
        (f"peak RSS, writer of the first {n_steps // 4} steps (MB)", f"{quarter_mb:.1f}"),
        ("peak RSS, import floor (MB)", f"{floor_mb:.1f}"),
        ("writer above the floor (MB)", f"{above:.1f}"),
        (f"{n_videos} videos decoded whole (MB)", f"{whole / mb:.1f}"),
        ("decoded whole / writer above floor", f"{figures['whole_over_writer_above_floor']:.1f}x"),
    ]
    for threads, wall in loaded.items():
        label = "FFmpeg's threads" if threads is None else f"{threads} encoder thread(s)"
        rows.append((f"under {args.busy} spinning processes, {label}: steps/s",
                     f"{n_steps / wall:.1f}"))
        rows.append(("  slowdown against the quiet run", f"{wall / writer['wall']:.2f}x"))
        figures[f"busy_{threads}_seconds"] = wall
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':{width}s}  {'value':>10s}")
    for name, value in rows:
        print(f"{name:{width}s}  {value:>10s}")
    if info.n_frames != n_steps:
        print(f"WARNING: the output has {info.n_frames} frames, not {n_steps}.")
    if args.out_json:
        Path(args.out_json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
