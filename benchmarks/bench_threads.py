"""Small work on a busy machine: skalign's thread policy against torch's default.

Two workloads, each timed on a quiet machine and again beside a CPU burner
that this script starts and stops itself (``--burners`` processes spinning
in a Python loop, 2 by default: as many as the cores of a 2-core laptop):

- ``fit``: the demo's fit, ``VideoAligner(method="vaot")`` on 12 synthetic
  videos of 80-120 frames and 32 features (``--epochs`` epochs);
- ``vaot N``: ``skalign.ot.vaot`` solves of N x N frames for N in
  ``--sizes`` (``--solves`` solves in a row at 512 frames, as many more or
  fewer as keep the work the same at other sizes).

Each workload runs under two policies, alternately, in one process:

- ``skalign``: the library's defaults (``n_jobs=None``: one thread for an
  estimator; one thread for a solve smaller than
  ``skalign.utils.SMALL_WORK``);
- ``all threads``: every call given all the cores (``n_jobs=-1`` for the
  estimator; a solve inside ``skalign.utils.thread_limit(cores)``), which is
  what torch does by default.

Printed: the wall time of each (median of ``--repeat``), and the ratio
loaded / quiet per policy (the target is at most 2), and the ratio of the
policies under load. Times and ratios come from one run, so every figure
saw the same machine.

Run: ``python benchmarks/bench_threads.py [--repeat 3] [--burners 2]``
(about 4 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time

import numpy as np


def _burn(stop) -> None:  # pragma: no cover - runs in a child process
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


class Burner:
    """``n`` processes that keep a core each busy until ``stop()``."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.procs: list = []
        self.event = None

    def start(self) -> None:
        ctx = mp.get_context("spawn")
        self.event = ctx.Event()
        self.procs = [ctx.Process(target=_burn, args=(self.event,), daemon=True) for _ in range(self.n)]
        for p in self.procs:
            p.start()
        time.sleep(0.5)

    def stop(self) -> None:
        if self.event is not None:
            self.event.set()
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        self.procs = []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--solves", type=int, default=5, help="solves of 512 frames (scaled for other sizes)")
    parser.add_argument("--sizes", default="128,256,512,1024", help="frames of the vaot solves")
    args = parser.parse_args(argv)

    import torch

    from skalign import VideoAligner
    from skalign.datasets import make_process_videos
    from skalign.ot import vaot
    from skalign.utils import thread_limit

    cores = os.cpu_count() or 1
    videos, _ = make_process_videos(12, 6, n_frames=(80, 120), n_features=32, random_state=0)
    rng = np.random.default_rng(0)

    def cosine_cost(n: int) -> np.ndarray:
        x = rng.normal(size=(n, 32))
        y = rng.normal(size=(n, 32))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        y /= np.linalg.norm(y, axis=1, keepdims=True)
        return (1.0 - x @ y.T).astype(np.float32)

    def fit(policy: str) -> None:
        n_jobs = None if policy == "skalign" else -1
        VideoAligner(method="vaot", max_epochs=args.epochs, random_state=0, n_jobs=n_jobs,
                     device="cpu").fit(videos)

    def solves(cost: np.ndarray, count: int):
        def run(policy: str) -> None:
            for _ in range(count):
                if policy == "skalign":
                    vaot(cost, epsilon=0.07)
                else:
                    with thread_limit(cores):
                        vaot(cost, epsilon=0.07)
        return run

    work = {"fit": fit}
    for n in (int(v) for v in args.sizes.split(",") if v):
        count = max(1, round(args.solves * (512 / n) ** 2))
        work[f"vaot {n} x{count}"] = solves(cosine_cost(n), count)
    policies = ("skalign", "all threads")
    print(f"# {cores} cores; torch {torch.__version__}, {torch.get_num_threads()} intra-op threads by default; "
          f"burner: {args.burners} spinning processes", flush=True)
    for fn in work.values():  # warm-up: compiled kernels, caches
        for policy in policies:
            fn(policy)
    times: dict = {}
    burner = Burner(args.burners)
    try:
        for load in ("quiet", "loaded"):
            if load == "loaded":
                burner.start()
            for name, fn in work.items():
                for _ in range(args.repeat):
                    for policy in policies:
                        t0 = time.perf_counter()
                        fn(policy)
                        times.setdefault((name, policy, load), []).append(time.perf_counter() - t0)
            if load == "loaded":
                burner.stop()
    finally:
        burner.stop()

    head = f"{'work':16s} {'policy':12s} {'quiet s':>9s} {'loaded s':>9s} {'loaded/quiet':>13s}"
    print(head)
    for name in work:
        for policy in policies:
            q = statistics.median(times[(name, policy, "quiet")])
            ld = statistics.median(times[(name, policy, "loaded")])
            print(f"{name:16s} {policy:12s} {q:9.3f} {ld:9.3f} {ld / q:13.2f}")
        own = statistics.median(times[(name, "skalign", "loaded")])
        full = statistics.median(times[(name, "all threads", "loaded")])
        print(f"{name:16s} under load, all threads / skalign: {full / own:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
