"""Speed and memory of skalign's VAOT solver against POT, in one process.

Two tables:

1. ``vaot`` with its defaults (25 outer iterations, float32, CPU) for
   N = M in --sizes: time (median of 3 calls after a first one), time
   ratio to the previous size, the first call (which loads or compiles the
   optional numba kernels), peak memory.
2. The same balanced fused GW problem (cost ``C + rho R``, band and
   complement-band priors, no virtual frame) solved to convergence by
   skalign (dual potentials carried over, 3 Sinkhorn iterations per outer
   iteration) and by POT's
   ``ot.gromov.entropic_fused_gromov_wasserstein`` (``square_loss`` on
   ``(Cx, -Cy/2)`` with dense priors, which is exactly the ``L(a,b) = ab``
   problem), float64: both times, the ratio, and the relative objective
   difference. POT is skipped where its predicted time exceeds
   --pot-max-seconds.

A third section compares the two virtual-frame rules of ``vaot``, balanced
(the paper) and with the second video's marginal relaxed (``lambda_y``), on
synthetic videos with background frames.

Run: ``python benchmarks/bench_ot.py`` (``--help`` for options). Each
measurement runs in a fresh process so that peak memory is its own.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time

import numpy as np


def _cost(n: int, seed: int = 0) -> np.ndarray:
    from skalign.datasets import make_process_videos

    videos, _ = make_process_videos(2, 8, n_frames=n, n_features=32, random_state=seed)
    x, y = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in videos)
    return 1.0 - x @ y.T


def _run_vaot(n: int, threads: int, queue) -> None:
    import torch

    from skalign.ot import vaot

    torch.set_num_threads(threads)
    C = torch.as_tensor(_cost(n), dtype=torch.float32)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # The first call loads (or compiles) the numba kernels when the problem
    # is large enough to use them: timed apart.
    t = time.perf_counter()
    vaot(C, epsilon=0.07)
    first = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    times = []
    for _ in range(3):
        t = time.perf_counter()
        res = vaot(C, epsilon=0.07)
        times.append(time.perf_counter() - t)
    queue.put((float(np.median(times)), first, peak / 1024.0, bool(torch.isfinite(res.plan).all())))


def _run_pair(n: int, threads: int, with_pot: bool, eps: float, queue) -> None:
    import warnings

    import ot
    import torch

    from skalign.ot import prior_matrix, structured_fgw, temporal_prior

    warnings.simplefilter("ignore")
    torch.set_num_threads(threads)
    alpha, radius, rho = 0.3, 0.02, 0.35
    C = _cost(n) + rho * temporal_prior(n, n)
    # Dual potentials carried over between outer iterations, 3 Sinkhorn
    # iterations each; stop when the plan moves less than 1e-9 (L1), POT's
    # criterion. A solve stopped at its first check loads the same kernels
    # first (untimed).
    solve = dict(alpha=alpha, radius=radius, epsilon=eps, inner_max_iter=3, inner_tol=1e-9)
    structured_fgw(C, max_iter=100000, tol=10.0, **solve)
    t = time.perf_counter()
    res = structured_fgw(C, max_iter=100000, tol=1e-9, **solve)
    t_sk = time.perf_counter() - t
    out = {"skalign_s": t_sk, "skalign_value": float(res.value), "skalign_iter": int(res.n_iter)}
    # The target compares objectives (within 1e-4): a looser stop, 1e-5 (L1
    # change of the plan), is timed too.
    t = time.perf_counter()
    loose = structured_fgw(C, max_iter=100000, tol=1e-5, **solve)
    out["loose_s"] = time.perf_counter() - t
    out["loose_value"] = float(loose.value)
    if with_pot:
        Cx, Cy = prior_matrix("band", n, radius), prior_matrix("complement_band", n, radius)
        p = np.full(n, 1.0 / n)
        t = time.perf_counter()
        T, log = ot.gromov.entropic_fused_gromov_wasserstein(
            C, Cx, -Cy / 2, p, p, loss_fun="square_loss", epsilon=eps, alpha=alpha,
            max_iter=10000, tol=1e-9, log=True)
        out["pot_s"] = time.perf_counter() - t
        out["pot_iter"] = len(log.get("err", [])) * 10 or -1
        out["pot_value"] = float((1 - alpha) * (C * T).sum() + alpha * ((Cx @ T @ Cy) * T).sum())
        out["plan_diff"] = float(np.abs(T - res.plan).max())
        out["pot_ok"] = bool(np.isfinite(T).all() and abs(T.sum() - 1) < 1e-6)
    queue.put(out)


def _in_process(target, *args):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=args + (queue,))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def _virtual_rules() -> None:
    from skalign.datasets import make_process_videos
    from skalign.metrics import alignment_accuracy
    from skalign.ot import decode_matches, vaot

    rows: dict = {}
    for seed in range(6):
        videos, labels = make_process_videos(2, 6, n_frames=120, n_features=32, background=0.25,
                                             nuisance=0.0, noise=0.05, random_state=seed, process=seed)
        x, y = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in videos)
        C = 1.0 - x @ y.T
        settings = [("cost", 0.5, None), ("cost", 0.3, None), ("threshold", 0.5, None), ("threshold", 0.3, None),
                    (None, 0.5, None), ("cost", 0.5, 0.3), ("cost", 0.5, 0.1), ("cost", 0.3, 0.1), (None, 0.5, 0.1)]
        for rule, zeta, lam in settings:
            plan = vaot(C, epsilon=0.04, virtual=rule, zeta=zeta, lambda_y=lam).plan
            m = decode_matches(plan, virtual=rule is not None)
            bg, pred = labels[0] == -1, m == -1
            rows.setdefault((rule, zeta, lam), []).append(
                ((pred & bg).sum() / bg.sum(), (pred & bg).sum() / max(pred.sum(), 1),
                 alignment_accuracy(m, labels[0], labels[1])))
    print("\nVirtual-frame rules: 6 pairs of 120-frame feature videos, 25% background, eps 0.04;")
    print("lambda_y: None = balanced (the paper), else the second video's marginal is KL-relaxed")
    print(f"{'rule':10s} {'zeta':>5s} {'lambda_y':>9s} {'bg recall':>10s} {'bg precision':>13s} {'align acc':>10s}")
    for (rule, zeta, lam), v in rows.items():
        v = np.array(v)
        print(f"{str(rule):10s} {zeta:5.1f} {str(lam):>9s} {v[:, 0].mean():10.3f} {v[:, 1].mean():13.3f} "
              f"{v[:, 2].mean():10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="128,256,512,1024,2048,4096")
    parser.add_argument("--pot-sizes", default="128,256,512")
    parser.add_argument("--pot-max-seconds", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", choices=("auto", "torch"), default="auto",
                        help="'torch' sets SKALIGN_NO_NUMBA=1 (no numba kernels) in the workers")
    parser.add_argument("--pair-epsilon", type=float, default=0.1,
                        help="epsilon of the POT comparison (POT's plain Sinkhorn underflows "
                             "at 0.07 from N = 256 on)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.backend == "torch":
        os.environ["SKALIGN_NO_NUMBA"] = "1"

    print(f"vaot defaults (25 iterations, eps 0.07, float32, CPU, {args.threads} threads, backend {args.backend})")
    print(f"{'N=M':>6s} {'time s':>9s} {'x prev':>7s} {'first call s':>13s} {'peak MB':>9s} finite")
    prev = None
    for n in sizes:
        t, first, peak, finite = _in_process(_run_vaot, n, args.threads)
        ratio = f"{t / prev:7.2f}" if prev else "       "
        print(f"{n:6d} {t:9.3f} {ratio} {first:13.3f} {peak:9.1f} {finite}", flush=True)
        prev = t

    print(f"\nSame problem to convergence (float64, eps {args.pair_epsilon}): skalign vs POT entropic FGW")
    print("skalign stops when the L1 change of the plan is below 1e-9 (columns 2-6) or 1e-5 (columns 7-9);")
    print("POT when the Frobenius norm of the change is below 1e-9 (its criterion).")
    print(f"{'N=M':>6s} {'skalign s':>10s} {'POT s':>9s} {'speed-up':>9s} {'rel obj diff':>13s} {'max plan diff':>14s}"
          f" {'s @1e-5':>8s} {'speed-up':>9s} {'rel obj diff':>13s}")
    pot_prev = None
    for n in [int(s) for s in args.pot_sizes.split(",") if s]:
        predicted = pot_prev * 8 if pot_prev else 0.0
        with_pot = predicted <= args.pot_max_seconds
        out = _in_process(_run_pair, n, args.threads, with_pot, args.pair_epsilon)
        if with_pot:
            pot_prev = out["pot_s"]
            rel = abs(out["skalign_value"] - out["pot_value"]) / abs(out["pot_value"])
            rel_loose = abs(out["loose_value"] - out["pot_value"]) / abs(out["pot_value"])
            note = "" if out["pot_ok"] else "  POT's plan is not a coupling (underflow)"
            print(f"{n:6d} {out['skalign_s']:10.3f} {out['pot_s']:9.2f} {out['pot_s'] / out['skalign_s']:9.1f} "
                  f"{rel:13.2e} {out['plan_diff']:14.2e} {out['loose_s']:8.3f} "
                  f"{out['pot_s'] / out['loose_s']:9.1f} {rel_loose:13.2e}  (outer: {out['skalign_iter']} "
                  f"skalign, ~{out['pot_iter']} POT){note}", flush=True)
        else:
            print(f"{n:6d} {out['skalign_s']:10.3f}   skipped (POT predicted {predicted:.0f} s)", flush=True)
    _virtual_rules()


if __name__ == "__main__":
    main()
