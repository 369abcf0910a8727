"""Training throughput of ``skalign.engine.Trainer``.

Measures frames per second and video pairs per second for the two default
encoders: ``MLPEncoder`` on 64-dimensional per-frame features and
``ConvEncoder`` on 64 x 64 uint8 frames, on the CPU and on CUDA when present.
The peer, measured in the same run on the same batches, is a hand-written
torch loop (sampler -> forward -> backward -> Adam step), so the ratio is the
engine's own overhead.

The objective is a pair loss of the same shape as the alignment losses: the
cross-entropy between the row softmax of ``X Y' / temperature`` and the
time-proportional matching of the sampled frames. The method losses of
``skalign.losses`` plug into the same ``loss_fn`` slot.

Run: ``python benchmarks/bench_fit.py [--device auto|cpu|cuda] [--steps 20]``.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from skalign.encoders import ConvEncoder, MLPEncoder
from skalign.engine import Trainer, VideoSampler, resolve_device, resolve_precision


def pair_loss(model, batch, temperature=0.1):
    """Cross-entropy of softmax(X Y' / temperature) against proportional matches."""
    zx, zy = model(batch.x.frames), model(batch.y.frames)
    logits = zx @ zy.transpose(1, 2) / temperature                   # (B, T, T)
    px, py = batch.x.positions, batch.y.positions                   # (B, T) in [0, 1)
    target = (px[:, :, None] - py[:, None, :]).abs().argmin(-1)      # nearest relative time
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), target.flatten())


def make_videos(kind, n_videos, n_total, seed=0):
    g = torch.Generator().manual_seed(seed)
    if kind == "features":
        return [torch.randn(n_total, 64, generator=g) for _ in range(n_videos)]
    return [torch.randint(0, 256, (n_total, 64, 64, 3), generator=g, dtype=torch.uint8)
            for _ in range(n_videos)]


def plain_loop(model, videos, device, steps, batch_size, n_frames, seed, precision):
    """The peer: the same steps written out by hand."""
    model = model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    sampler = VideoSampler([len(v) for v in videos], n_frames=n_frames, batch_size=batch_size,
                           pairs=True, steps_per_epoch=steps)
    dtype = precision.autocast_dtype
    scaler = torch.amp.GradScaler("cuda") if precision.use_grad_scaler else None
    for batch in sampler.iter_epoch(videos, seed, 0):
        batch = batch.to(device)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = pair_loss(model, batch)
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(kind, device, steps, batch_size, n_frames, repeats=3):
    videos = make_videos(kind, n_videos=16, n_total=300)
    make = (lambda: MLPEncoder(64, 128, hidden_sizes=(256,))) if kind == "features" \
        else (lambda: ConvEncoder(128))
    init = make()
    precision = resolve_precision("auto", device)

    def run_trainer():
        Trainer(max_epochs=1, steps_per_epoch=steps, batch_size=batch_size, n_frames=n_frames,
                lr=1e-4, device=device, random_state=0).fit(copy.deepcopy(init), videos, pair_loss)
        if device.type == "cuda":
            torch.cuda.synchronize()

    def run_plain():
        plain_loop(copy.deepcopy(init), videos, device, steps, batch_size, n_frames, 0, precision)

    run_trainer()
    run_plain()                                                        # warm-up
    t_tr, t_pl = [], []
    for _ in range(repeats):
        t0 = time.perf_counter(); run_trainer(); t_tr.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); run_plain(); t_pl.append(time.perf_counter() - t0)
    best_tr, best_pl = min(t_tr), min(t_pl)
    pairs = steps * batch_size
    frames = 2 * pairs * n_frames
    print(f"{kind:9s} {device.type:5s} {precision.name:5s} | Trainer {frames / best_tr:10.0f} frames/s "
          f"{pairs / best_tr:8.1f} pairs/s | plain loop {frames / best_pl:10.0f} frames/s | "
          f"Trainer/plain time {best_tr / best_pl:5.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--n-frames", type=int, default=32)
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {device}; "
          f"{args.steps} steps x {args.batch_size} pairs x {args.n_frames} frames per video")
    for kind in ("features", "frames"):
        bench(kind, device, args.steps, args.batch_size, args.n_frames)


if __name__ == "__main__":
    main()
