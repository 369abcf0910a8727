"""Benchmark: soft-DTW forward + backward on CPU, skalign against tslearn and pysdtw.

For N = M in {64, 256, 1024, 4096} and D = 128 features, each implementation
computes the squared Euclidean cost between two float32 sequences, the
soft-DTW value (gamma = 1) and its gradient with respect to both sequences,
in one process:

* skalign: ``skalign.sequence.soft_dtw`` (compiled numba kernels when numba
  is installed, ``--backend`` to force one), recursion in float64;
* tslearn: ``tslearn.metrics.SoftDTWLossPyTorch`` (recursion in the input
  dtype, float32);
* pysdtw: ``pysdtw.SoftDTW(use_cuda=False)`` (numba CPU kernels).

Printed per size: the best and median wall time of ``--repeat`` rounds (each
round runs every implementation once, so that all see the same load), the
ratios peer / skalign (> 1 means skalign is faster), the peak resident
memory of one forward + backward (measured in a fresh subprocess per
implementation and size, above the memory held before the call), and the
relative error of each value against a float64 reference (float64 cost and
float64 soft-DTW by tslearn's numpy kernel, for N <= 1024; skalign's float64
value above). A peer is skipped at a size where its time, extrapolated from
the previous size (quadratic growth), would exceed ``--max-seconds``, or
where tslearn's (N, M, D) distance expansion would not fit in memory.

Run: ``python benchmarks/bench_sequence.py`` (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import torch

GAMMA = 1.0
DIM = 128
SIZES = (64, 256, 1024, 4096)
PEERS = ("tslearn", "pysdtw")


def make_inputs(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, n, DIM, generator=g)
    y = torch.randn(1, n, DIM, generator=g) + 0.5
    return x, y


def sq_euclidean(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(B, N, M) squared distances by the norm expansion, clamped at 0."""
    xx = (x * x).sum(-1)[:, :, None]
    yy = (y * y).sum(-1)[:, None, :]
    return (xx + yy - 2.0 * x @ y.transpose(1, 2)).clamp_min(0.0)


def make_runner(name: str, backend: str):
    """A function (x, y) -> float value running forward + backward."""
    if name == "skalign":
        from skalign.sequence import soft_dtw

        def run(x, y):
            x = x.clone().requires_grad_(True)
            y = y.clone().requires_grad_(True)
            value = soft_dtw(sq_euclidean(x, y), gamma=GAMMA, backend=backend).value
            value.sum().backward()
            return float(value.detach()[0])

    elif name == "tslearn":
        from tslearn.metrics import SoftDTWLossPyTorch

        loss = SoftDTWLossPyTorch(gamma=GAMMA)

        def run(x, y):
            x = x.clone().requires_grad_(True)
            y = y.clone().requires_grad_(True)
            value = loss(x, y)
            value.sum().backward()
            return float(value.detach()[0])

    elif name == "pysdtw":
        import pysdtw

        loss = pysdtw.SoftDTW(gamma=GAMMA, use_cuda=False)

        def run(x, y):
            x = x.clone().requires_grad_(True)
            y = y.clone().requires_grad_(True)
            value = loss(x, y)
            value.sum().backward()
            return float(value.detach()[0])

    else:
        raise ValueError(name)
    return run


def reference_value(x: torch.Tensor, y: torch.Tensor, backend: str) -> float:
    """float64 soft-DTW of the float64 cost: tslearn's numpy kernel up to 1024, skalign above."""
    x64, y64 = x[0].double().numpy(), y[0].double().numpy()
    cost = ((x64 * x64).sum(1)[:, None] + (y64 * y64).sum(1)[None, :] - 2 * x64 @ y64.T).clip(0)
    if x.shape[1] <= 1024:
        from tslearn.metrics import SoftDTW

        return float(SoftDTW(cost, gamma=GAMMA).compute())
    from skalign.sequence import soft_dtw

    return float(soft_dtw(cost, gamma=GAMMA, backend=backend).value)


def time_interleaved(runners: dict, x, y, repeat: int) -> dict:
    """name -> (best ms, median ms, value): one warm-up run each, then ``repeat``
    rounds, each running every implementation once, so that all see the same
    machine load."""
    values = {name: run(x, y) for name, run in runners.items()}
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeat):
        for name, run in runners.items():
            t0 = time.perf_counter()
            values[name] = run(x, y)
            times[name].append(time.perf_counter() - t0)
    return {
        name: (1e3 * min(ts), 1e3 * statistics.median(ts), values[name]) for name, ts in times.items()
    }


# ---------------------------------------------------------------- peak memory


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def _measure_peak(name: str, n: int, backend: str) -> float:
    """Peak RSS (MiB) of one forward + backward above the RSS before it (this process)."""
    run = make_runner(name, backend)
    x_small, y_small = make_inputs(16)
    run(x_small, y_small)  # load / compile kernels
    x, y = make_inputs(n)
    base = _status_kib("VmRSS")
    try:  # reset the high-water mark (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        run(x, y)
        peak = _status_kib("VmHWM")
    except OSError:  # fall back to sampling the resident set size
        peak, done = base, threading.Event()

        def sample():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _status_kib("VmRSS"))
                time.sleep(0.001)

        th = threading.Thread(target=sample)
        th.start()
        run(x, y)
        done.set()
        th.join()
    return (peak - base) / 1024


def set_threads(n: int) -> None:
    torch.set_num_threads(n)
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass


def peak_memory_mib(name: str, n: int, backend: str, threads: int | None) -> float | None:
    cmd = [sys.executable, __file__, "--peak-memory", name, str(n), "--backend", backend]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_mib"]


# ---------------------------------------------------------------------- main


def fmt(v, spec=".1f", none="skip"):
    return none if v is None else format(v, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--backend", default="auto", choices=["auto", "numba", "torch"])
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument(
        "--threads", type=int, default=None,
        help="torch and numba threads (default: torch's default); 1 avoids thread-pool stalls on a shared machine",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--peak-memory", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.threads is not None:
        set_threads(args.threads)
    if args.peak_memory:
        name, n = args.peak_memory[0], int(args.peak_memory[1])
        print(json.dumps({"peak_mib": _measure_peak(name, n, args.backend)}))
        return

    from skalign.sequence._common import resolve_backend

    backend = resolve_backend(args.backend, torch.device("cpu"))
    print(
        f"soft-DTW forward + backward, CPU, D={DIM}, gamma={GAMMA}, float32 input, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, skalign backend={backend}, "
        f"best/median of {args.repeat} interleaved rounds ({max(2, args.repeat // 3)} above N=1024)"
    )
    runners = {name: make_runner(name, args.backend) for name in ("skalign",) + PEERS}
    last_ms: dict[str, float] = {}
    last_n: dict[str, int] = {}
    rows = []
    avail_kib = _status_meminfo_kib("MemAvailable")
    for n in args.sizes:
        x, y = make_inputs(n)
        ref = reference_value(x, y, args.backend)
        row = {"N": n, "ref": ref}
        repeat = args.repeat if n <= 1024 else max(2, args.repeat // 3)
        active = []
        for name in ("skalign",) + PEERS:
            skip = None
            if name != "skalign" and name in last_ms:
                est = last_ms[name] * (n / last_n[name]) ** 2 / 1e3
                if est * (repeat + 1) > args.max_seconds:
                    skip = f"est. {est:.0f} s per run"
            if name == "tslearn" and 4 * n * n * DIM * 4 > avail_kib * 1024 / 2:
                skip = f"(N, M, D) expansion {4 * n * n * DIM * 4 / 2**30:.0f} GiB"
            if skip:
                row[name] = None
                row[name + "_skip"] = skip
            else:
                active.append(name)
        timings = time_interleaved({name: runners[name] for name in active}, x, y, repeat)
        for name, (best, median, value) in timings.items():
            last_ms[name], last_n[name] = best, n
            row[name] = (best, median)
            row[name + "_err"] = abs(value - ref) / abs(ref)
            if not args.no_memory:
                row[name + "_mem"] = peak_memory_mib(name, n, args.backend, args.threads)
        rows.append(row)
        print_row(row, header=len(rows) == 1)
    print()
    print("ratio = peer time / skalign time (best of runs); err = |value - float64 reference| / reference;")
    print("mem = peak resident memory of one forward + backward above the memory held before it.")
    for row in rows:
        for name in PEERS:
            if row.get(name + "_skip"):
                print(f"N={row['N']}: {name} skipped ({row[name + '_skip']})")


def _status_meminfo_kib(field: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 1 << 40


def print_row(row: dict, header: bool) -> None:
    cols = [
        ("N", 5), ("skalign ms", 16), ("tslearn ms", 16), ("pysdtw ms", 16), ("ts/sk", 6), ("py/sk", 6),
        ("sk mem MiB", 10), ("ts mem", 7), ("py mem", 7), ("sk err", 8), ("ts err", 8), ("py err", 8),
    ]
    if header:
        print(" | ".join(f"{c:>{w}}" for c, w in cols))
        print("-|-".join("-" * w for _, w in cols))

    def t(name):
        v = row.get(name)
        return "skip" if v is None else f"{v[0]:.1f} / {v[1]:.1f}"

    def ratio(name):
        if row.get(name) is None or row.get("skalign") is None:
            return "-"
        return f"{row[name][0] / row['skalign'][0]:.1f}"

    vals = [
        str(row["N"]), t("skalign"), t("tslearn"), t("pysdtw"), ratio("tslearn"), ratio("pysdtw"),
        fmt(row.get("skalign_mem"), ".0f", "-"), fmt(row.get("tslearn_mem"), ".0f", "-"),
        fmt(row.get("pysdtw_mem"), ".0f", "-"),
        fmt(row.get("skalign_err"), ".0e", "-"), fmt(row.get("tslearn_err"), ".0e", "-"),
        fmt(row.get("pysdtw_err"), ".0e", "-"),
    ]
    print(" | ".join(f"{v:>{w}}" for v, (_, w) in zip(vals, cols)), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
