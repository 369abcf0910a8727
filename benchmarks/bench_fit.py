"""Training throughput of VAOT: ``skalign.engine.Trainer`` and ``VideoAligner.fit``.

Measures frames per second and video pairs per second for the two default
encoders: ``MLPEncoder`` on 64-dimensional per-frame features and
``ConvEncoder`` on 64 x 64 uint8 frames, on the CPU and on CUDA when present.
The objective is the VAOT loss (``skalign.losses.vaot_loss``: pseudo-labels
from the fused Gromov-Wasserstein solver, 25 iterations, then the
cross-entropy of Eq. 6). Three runs on the same batches:

- the peer, a hand-written torch loop (sampler -> forward -> loss ->
  backward -> Adam step), so that ``Trainer/plain`` is the engine's overhead;
- ``Trainer.fit`` with the same loss;
- ``VideoAligner.fit`` (input checks, encoder construction, training).

``loss share`` is the part of a plain step's time spent in the forward pass of
the loss (the optimal-transport solve for the pseudo-labels and the
cross-entropy); the rest is the encoder, the backward pass and the update.

Run: ``python benchmarks/bench_fit.py [--device auto|cpu|cuda] [--steps 20]``.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch

from skalign import VideoAligner
from skalign.encoders import ConvEncoder, MLPEncoder
from skalign.engine import Trainer, VideoSampler, resolve_device, resolve_precision
from skalign.losses import vaot_loss


def pair_loss(model, batch):
    """The VAOT loss (paper defaults) of one batch of video pairs."""
    zx, zy = model(batch.x.frames), model(batch.y.frames)
    return vaot_loss(zx, zy, mask_x=batch.x.mask, mask_y=batch.y.mask)


def make_videos(kind, n_videos, n_total, seed=0):
    g = torch.Generator().manual_seed(seed)
    if kind == "features":
        return [torch.randn(n_total, 64, generator=g) for _ in range(n_videos)]
    return [torch.randint(0, 256, (n_total, 64, 64, 3), generator=g, dtype=torch.uint8)
            for _ in range(n_videos)]


def plain_loop(model, videos, device, steps, batch_size, n_frames, seed, precision, timing=None):
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
            zx, zy = model(batch.x.frames), model(batch.y.frames)
            if timing is not None and device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            loss = vaot_loss(zx, zy, mask_x=batch.x.mask, mask_y=batch.y.mask)
            if timing is not None:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                timing.append(time.perf_counter() - t0)
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
    n_videos = steps * batch_size              # one epoch of VideoAligner.fit = `steps` steps
    videos = make_videos(kind, n_videos=n_videos, n_total=300)
    arrays = [v.numpy() for v in videos]
    make = (lambda: MLPEncoder(64, 128, hidden_sizes=(256,))) if kind == "features" \
        else (lambda: ConvEncoder(128))
    init = make()
    precision = resolve_precision("auto", device)

    def run_trainer():
        Trainer(max_epochs=1, steps_per_epoch=steps, batch_size=batch_size, n_frames=n_frames,
                lr=1e-4, device=device, random_state=0).fit(copy.deepcopy(init), videos, pair_loss)
        if device.type == "cuda":
            torch.cuda.synchronize()

    def run_plain(timing=None):
        plain_loop(copy.deepcopy(init), videos, device, steps, batch_size, n_frames, 0, precision,
                   timing)

    def run_aligner():
        VideoAligner(max_epochs=1, batch_size=batch_size, n_frames=n_frames, device=device,
                     random_state=0).fit(arrays)
        if device.type == "cuda":
            torch.cuda.synchronize()

    run_trainer()
    run_plain()
    run_aligner()                                                      # warm-up
    t_tr, t_pl, t_al, t_loss = [], [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter(); run_trainer(); t_tr.append(time.perf_counter() - t0)
        timing = []
        t0 = time.perf_counter(); run_plain(timing); t_pl.append(time.perf_counter() - t0)
        t_loss.append(sum(timing) / t_pl[-1])
        t0 = time.perf_counter(); run_aligner(); t_al.append(time.perf_counter() - t0)
    best_tr, best_pl, best_al = min(t_tr), min(t_pl), min(t_al)
    pairs = steps * batch_size
    frames = 2 * pairs * n_frames
    print(f"{kind:9s} {device.type:5s} {precision.name:5s} | plain {frames / best_pl:8.0f} frames/s "
          f"{pairs / best_pl:7.1f} pairs/s | Trainer {frames / best_tr:8.0f} frames/s "
          f"{pairs / best_tr:7.1f} pairs/s | VideoAligner {frames / best_al:8.0f} frames/s "
          f"{pairs / best_al:7.1f} pairs/s | Trainer/plain {best_tr / best_pl:4.2f} "
          f"VideoAligner/plain {best_al / best_pl:4.2f} | loss share {np.median(t_loss):4.2f}")


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
