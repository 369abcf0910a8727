"""Data-parallel training: two CPU processes with gloo, launched as torchrun does."""

import textwrap

import pytest
import torch

from skalign.encoders import MLPEncoder
from skalign.engine import DistributedEnv, detect_distributed

LOSS_SRC = textwrap.dedent(
    """
    def loss_fn(model, batch):
        zx, zy = model(batch.x.frames), model(batch.y.frames)
        per_pair = ((zx.mean(1) - zy.mean(1)) ** 2).sum(-1) + 0.1 * (zx ** 2).sum(-1).mean(1)
        return per_pair.mean()
    """
)

WORKER = LOSS_SRC + textwrap.dedent(
    """
    import sys
    import torch
    from skalign.encoders import MLPEncoder
    from skalign.engine import LambdaCallback, Trainer

    out = sys.argv[1]
    setup = torch.load(f"{out}/setup.pt", weights_only=True)
    model = MLPEncoder(4, 3, hidden_sizes=(8,), normalize=False)
    model.load_state_dict(setup["model"])
    seen = []
    record = LambdaCallback(on_batch_end=lambda trainer, batch, loss, figures: seen.append(batch))
    trainer = Trainer(max_epochs=1, steps_per_epoch=1, batch_size=2, n_frames=5, pairs=True,
                      lr=0.05, device="cpu", random_state=0, callbacks=[record])
    trainer.fit(model, setup["videos"], loss_fn)
    (b,) = seen
    torch.save({"model": model.state_dict(), "rank": trainer.rank, "world_size": trainer.world_size,
                "x_frames": b.x.frames, "y_frames": b.y.frames, "x_video": b.x.video,
                "y_video": b.y.video, "loss": trainer.history_[0]["loss"]},
               f"{out}/rank{trainer.rank}.pt")
    """
)


def test_detect_distributed_reads_launcher_variables():
    env = detect_distributed({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert env == DistributedEnv(rank=3, world_size=4, local_rank=1) and env.is_distributed
    assert detect_distributed({}) == DistributedEnv(0, 1, 0)
    with pytest.raises(ValueError, match="RANK=4"):
        detect_distributed({"WORLD_SIZE": "2", "RANK": "4"})
    with pytest.raises(ValueError, match="not an integer"):
        detect_distributed({"WORLD_SIZE": "two"})


@pytest.mark.slow
def test_two_gloo_processes_hold_identical_weights_equal_to_one_process(tmp_path, launch_ranks):
    g = torch.Generator().manual_seed(0)
    videos = [torch.randn(n, 4, generator=g) for n in (12, 14, 16, 18)]
    init = MLPEncoder(4, 3, hidden_sizes=(8,), normalize=False)
    torch.save({"model": init.state_dict(), "videos": videos}, tmp_path / "setup.pt")
    (tmp_path / "worker.py").write_text(WORKER)
    launch_ranks(tmp_path / "worker.py", tmp_path, timeout=180)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert (r0["rank"], r0["world_size"], r1["rank"], r1["world_size"]) == (0, 2, 1, 2)
    # each rank led with different videos
    assert set(r0["x_video"].tolist()).isdisjoint(r1["x_video"].tolist())
    # the replicas hold identical weights after the step
    for k in r0["model"]:
        assert torch.equal(r0["model"][k], r1["model"][k]), k

    # one process, one Adam step on the two ranks' batches concatenated
    scope = {}
    exec(LOSS_SRC, scope)
    loss_fn = scope["loss_fn"]

    class Pair:
        def __init__(self, x, y):
            self.x, self.y = type("B", (), {"frames": x})(), type("B", (), {"frames": y})()

    ref = MLPEncoder(4, 3, hidden_sizes=(8,), normalize=False)
    ref.load_state_dict(init.state_dict())
    opt = torch.optim.Adam(ref.parameters(), lr=0.05)
    batch = Pair(torch.cat([r0["x_frames"], r1["x_frames"]]), torch.cat([r0["y_frames"], r1["y_frames"]]))
    loss = loss_fn(ref, batch)
    loss.backward()
    opt.step()
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(r0["model"][k], v, atol=1e-6, rtol=1e-6)
    # the history's loss is the mean over ranks, i.e. the concatenated batch's loss
    assert r0["loss"] == pytest.approx(float(loss.detach()), rel=1e-5)
    assert r1["loss"] == pytest.approx(r0["loss"], rel=1e-6)
