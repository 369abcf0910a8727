"""A model fitted on a GPU, loaded and used on a CPU-only machine.

``python benchmarks/gpu_model_check.py dump OUTDIR`` (on the GPU machine) fits
``VideoAligner(method="vaot")`` on CUDA with mixed precision, writes it as a
skalign model file (``OUTDIR/gpu_model.skalign``, :func:`skalign.persist.save_model`)
and its CUDA embeddings and alignment of held-out synthetic videos to
``OUTDIR/gpu_embeddings.npz``.

``python benchmarks/gpu_model_check.py check OUTDIR`` (on a CPU-only machine)
loads the model (``gpu_model.skalign``, which runs no code when read; an
older ``gpu_model.joblib`` pickle only if that is all there is: only files
you made yourself), checks that it sits on the CPU, embeds the same videos
and aligns the same pair, and prints the largest difference from the GPU's
figures. It exits 1 when the embeddings differ by more than 1e-3 or the
matches differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import numpy as np

from skalign import VideoAligner
from skalign.datasets import make_process_videos


def _held_out():
    videos, _ = make_process_videos(4, 4, random_state=11)
    return videos


def dump(out: Path) -> int:
    import torch

    videos, _ = make_process_videos(12, 4, random_state=0)
    est = VideoAligner(method="vaot", max_epochs=5, device="cuda", random_state=0).fit(videos)
    assert next(est.encoder_.parameters()).device.type == "cuda"
    held = _held_out()
    emb = est.transform(held)
    res = est.align(held[0], held[1])
    from skalign.persist import save_model

    save_model(est, out / "gpu_model.skalign")
    np.savez(out / "gpu_embeddings.npz", *emb, matches=res.matches, plan=res.plan)
    print(f"fitted on {torch.cuda.get_device_name()} (precision {est.precision!r}); wrote "
          f"{out / 'gpu_model.skalign'}")
    return 0


def check(out: Path) -> int:
    import torch

    from skalign.persist import load_model

    model = out / "gpu_model.skalign"
    est = load_model(model) if model.is_file() else joblib.load(out / "gpu_model.joblib")
    where = {p.device.type for p in est.encoder_.parameters()}
    saved = np.load(out / "gpu_embeddings.npz")
    held = _held_out()
    est.set_params(device="cpu")
    emb = est.transform(held)
    diff = max(float(np.abs(a - saved[f"arr_{i}"]).max()) for i, a in enumerate(emb))
    res = est.align(held[0], held[1])
    same = np.array_equal(res.matches, saved["matches"])
    plan_diff = float(np.abs(res.plan - saved["plan"]).max())
    print(f"CUDA available here: {torch.cuda.is_available()}; parameters on {sorted(where)}")
    print(f"largest embedding difference CPU vs GPU: {diff:.2e}; plan difference {plan_diff:.2e}; "
          f"matches equal: {same}")
    return 0 if where == {"cpu"} and diff <= 1e-3 and same else 1


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("dump", "check"):
        print(__doc__)
        sys.exit(2)
    target = Path(sys.argv[2])
    target.mkdir(parents=True, exist_ok=True)
    sys.exit(dump(target) if sys.argv[1] == "dump" else check(target))
