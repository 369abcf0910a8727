"""Trainer: learning, equivalence with a plain torch loop, history, callbacks, checkpoints."""

import copy

import pytest
import torch

from skalign.encoders import MLPEncoder
from skalign.engine import (
    Callback,
    LambdaCallback,
    Trainer,
    VideoSampler,
    load_checkpoint,
)


def _feature_videos(lengths, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g) for n in lengths]


def _pair_loss(model, batch):
    """Mean over pairs: match the mean embeddings, keep the embeddings spread."""
    zx, zy = model(batch.x.frames), model(batch.y.frames)
    match = ((zx.mean(1) - zy.mean(1)) ** 2).sum(-1)
    spread = ((zx - zx.mean(1, keepdim=True)) ** 2).sum(-1).mean(1)
    return (match - 0.1 * spread).mean()


def test_learns_a_linear_map_with_known_optimum():
    # embeddings of frame t must equal A x_t; the optimum is W = A, b = 0, loss 0
    g = torch.Generator().manual_seed(1)
    A = torch.randn(3, 4, generator=g)
    videos = _feature_videos([30, 40, 50], seed=2)
    model = MLPEncoder(4, 3, hidden_sizes=(), normalize=False)

    def loss_fn(model, batch):
        x = batch.frames
        return ((model(x) - x @ A.T) ** 2).sum(-1).mean()

    trainer = Trainer(max_epochs=60, batch_size=3, n_frames=16, pairs=False, steps_per_epoch=5,
                      lr=0.05, device="cpu", random_state=0).fit(model, videos, loss_fn)
    losses = trainer.history_["loss"]
    assert len(trainer.history_) == 60 and trainer.history_[-1]["epoch"] == 60
    assert trainer.history_[-1]["n_steps"] == 5
    assert losses[-1] < 1e-4 * losses[0]
    lin = model.net[0]
    torch.testing.assert_close(lin.weight.detach(), A, atol=1e-2, rtol=0)
    torch.testing.assert_close(lin.bias.detach(), torch.zeros(3), atol=1e-2, rtol=0)
    assert not model.training                     # eval mode after fit


def test_equals_plain_torch_loop_with_adam_weight_decay_and_clipping():
    lengths = [20, 25, 30, 35, 40]
    videos = _feature_videos(lengths, seed=3)
    model = MLPEncoder(4, 3, hidden_sizes=(8,), normalize=False)
    ref = copy.deepcopy(model)
    trainer = Trainer(max_epochs=3, batch_size=2, n_frames=6, pairs=True, lr=1e-2,
                      weight_decay=1e-2, grad_clip=0.05, device="cpu", random_state=7)
    trainer.fit(model, videos, _pair_loss)

    opt = torch.optim.Adam(ref.parameters(), lr=1e-2, weight_decay=1e-2)
    sampler = VideoSampler(lengths, n_frames=6, batch_size=2, pairs=True)
    epoch_losses, norms = [], []
    for epoch in range(3):
        losses = []
        for batch in sampler.iter_epoch(videos, trainer.seed_, epoch):
            opt.zero_grad()
            loss = _pair_loss(ref, batch)
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.05)))
            opt.step()
            losses.append(float(loss.detach()))
        epoch_losses.append(sum(losses) / len(losses))
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(torch.tensor(trainer.history_["loss"]), torch.tensor(epoch_losses))
    assert max(norms) > 0.05                                   # clipping was active
    mean_norm_epoch0 = sum(norms[:3]) / 3
    assert trainer.history_[0]["grad_norm"] == pytest.approx(mean_norm_epoch0, rel=1e-5)


def test_same_seed_same_weights_different_seed_different_weights():
    videos = _feature_videos([20, 22, 24, 26], seed=4)
    init = MLPEncoder(4, 3, hidden_sizes=(16,), dropout=0.3)

    def run(seed):
        m = copy.deepcopy(init)
        torch.rand(7)          # move the global RNG: the run must not depend on it
        Trainer(max_epochs=3, batch_size=2, n_frames=5, lr=1e-2, device="cpu",
                random_state=seed).fit(m, videos, _pair_loss)
        return torch.cat([p.detach().flatten() for p in m.parameters()])

    a, b, c = run(11), run(11), run(12)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_global_rng_is_left_untouched():
    videos = _feature_videos([10, 12], seed=5)
    model = MLPEncoder(4, 2, dropout=0.5)
    state = torch.get_rng_state()
    Trainer(max_epochs=2, batch_size=1, n_frames=4, device="cpu", random_state=0).fit(
        model, videos, _pair_loss)
    assert torch.equal(torch.get_rng_state(), state)


def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path):
    videos = _feature_videos([15, 18, 21, 24, 27], seed=6)
    init = MLPEncoder(4, 3, hidden_sizes=(8,), dropout=0.2)
    kw = dict(batch_size=2, n_frames=5, lr=1e-2, weight_decay=1e-3, device="cpu")

    full = copy.deepcopy(init)
    t_full = Trainer(max_epochs=4, random_state=3, checkpoint=tmp_path / "full.pt", **kw)
    t_full.fit(full, videos, _pair_loss)

    half = copy.deepcopy(init)
    Trainer(max_epochs=2, random_state=3, checkpoint=tmp_path / "half.pt", **kw).fit(half, videos, _pair_loss)
    state = torch.load(tmp_path / "half.pt", weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert set(state) >= {"model", "optimizer", "history", "seed", "scaler"}

    resumed = MLPEncoder(4, 3, hidden_sizes=(8,), dropout=0.2)     # other initial weights
    # the seed comes from the checkpoint, not from random_state
    t_res = Trainer(max_epochs=4, random_state=999, resume=tmp_path / "half.pt", **kw)
    t_res.fit(resumed, videos, _pair_loss)
    for p, q in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(p, q)
    strip = [{k: v for k, v in r.items() if k != "duration"} for r in t_full.history_]
    assert [{k: v for k, v in r.items() if k != "duration"} for r in t_res.history_] == strip
    assert load_checkpoint(tmp_path / "full.pt")["epoch"] == 4


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt")
    torch.save({"a": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a skalign training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_callbacks_order_stop_and_figures():
    videos = _feature_videos([10, 11, 12], seed=7)
    calls, per_step = [], []

    class Recorder(Callback):
        def on_train_begin(self, trainer):
            calls.append("train_begin")

        def on_epoch_begin(self, trainer, epoch):
            calls.append(f"epoch_begin {epoch}")

        def on_batch_end(self, trainer, *, batch, loss, figures):
            calls.append("batch")
            per_step.append(float(figures["half"]))

        def on_epoch_end(self, trainer, record):
            calls.append(f"epoch_end {record['epoch']}")
            if record["epoch"] == 2:
                trainer.stop_training = True

        def on_train_end(self, trainer):
            calls.append("train_end")

    def loss_fn(model, batch):
        loss = _pair_loss(model, batch)
        return loss, {"half": loss / 2, "const": 3.0}

    t = Trainer(max_epochs=5, batch_size=2, n_frames=4, device="cpu", random_state=0,
                callbacks=[Recorder()]).fit(MLPEncoder(4, 2), videos, loss_fn)
    assert calls == ["train_begin", "epoch_begin 1", "batch", "batch", "epoch_end 1",
                     "epoch_begin 2", "batch", "batch", "epoch_end 2", "train_end"]
    assert len(t.history_) == 2 and t.epoch == 2
    rec = t.history_[0]
    assert rec["half"] == pytest.approx(sum(per_step[:2]) / 2)
    assert rec["half"] == pytest.approx(rec["loss"] / 2)
    assert rec["const"] == 3.0 and rec["lr"] == 1e-4 and rec["duration"] >= 0


def test_pair_batches_reach_the_loss_on_the_device():
    videos = _feature_videos([10, 11, 12], seed=8)
    seen = []

    def loss_fn(model, batch):
        seen.append(batch)
        return _pair_loss(model, batch)

    Trainer(max_epochs=1, batch_size=3, n_frames=4, device="cpu", random_state=0).fit(
        MLPEncoder(4, 2), videos, loss_fn)
    (b,) = seen
    assert b.x.frames.shape == (3, 4, 4) and (b.x.video != b.y.video).all()


def test_verbose_prints_progress(capsys):
    videos = _feature_videos([10, 11], seed=9)
    Trainer(max_epochs=2, batch_size=1, n_frames=4, device="cpu", random_state=0, verbose=2).fit(
        MLPEncoder(4, 2), videos, _pair_loss)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "loss=" in err and "[" in err
    Trainer(max_epochs=1, batch_size=1, n_frames=4, device="cpu", random_state=0).fit(
        MLPEncoder(4, 2), videos, _pair_loss)
    assert capsys.readouterr().err == ""


def test_lambda_callback_and_unknown_hook():
    epochs = []
    cb = LambdaCallback(on_epoch_end=lambda trainer, record: epochs.append(record["epoch"]))
    Trainer(max_epochs=2, batch_size=1, n_frames=3, device="cpu", random_state=0, callbacks=[cb]).fit(
        MLPEncoder(4, 2), _feature_videos([5, 6]), _pair_loss)
    assert epochs == [1, 2]
    with pytest.raises(ValueError, match="unknown hook"):
        LambdaCallback(on_step=print)


def test_input_errors():
    m = MLPEncoder(4, 2)
    t = Trainer(max_epochs=1, device="cpu", random_state=0)
    with pytest.raises(ValueError, match="empty"):
        t.fit(m, [], _pair_loss)
    with pytest.raises(ValueError, match="video 1 has frames of shape"):
        t.fit(m, [torch.zeros(5, 4), torch.zeros(5, 3)], _pair_loss)
    with pytest.raises(ValueError, match="video 1 has dtype"):
        t.fit(m, [torch.zeros(5, 4), torch.zeros(5, 4, dtype=torch.float64)], _pair_loss)
    with pytest.raises(ValueError, match="single array"):
        t.fit(m, torch.zeros(3, 5, 4), _pair_loss)
    with pytest.raises(ValueError, match="at least 2 videos"):
        t.fit(m, [torch.zeros(5, 4)], _pair_loss)
    with pytest.raises(ValueError, match="video 0 has no frames"):
        t.fit(m, [torch.zeros(0, 4), torch.zeros(3, 4)], _pair_loss)
    frozen = MLPEncoder(4, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        t.fit(frozen, [torch.zeros(5, 4)] * 2, _pair_loss)
    with pytest.raises(ValueError, match="scalar tensor"):
        t.fit(m, [torch.zeros(5, 4)] * 2, lambda model, b: model(b.x.frames))
    with pytest.raises(ValueError, match="put them in the model"):
        t.fit(m, [torch.zeros(5, 4)] * 2, torch.nn.Linear(2, 2))
    with pytest.raises(FloatingPointError, match="epoch 1"):
        t.fit(m, [torch.zeros(5, 4)] * 2, lambda model, b: model(b.x.frames).sum() * float("nan"))
    for kw, msg in [({"lr": 0}, "lr"), ({"optimizer": "sgd"}, "optimizer"),
                    ({"grad_clip": -1.0}, "grad_clip"), ({"distributed": "yes"}, "distributed"),
                    ({"max_epochs": -1}, "max_epochs")]:
        with pytest.raises(ValueError, match=msg):
            Trainer(device="cpu", **kw).fit(m, [torch.zeros(5, 4)] * 2, _pair_loss)
    with pytest.raises(ValueError, match="distributed=True"):
        Trainer(device="cpu", distributed=True).fit(m, [torch.zeros(5, 4)] * 2, _pair_loss)


def test_numpy_videos_and_adamw():
    import numpy as np

    rng = np.random.default_rng(0)
    videos = [rng.standard_normal((n, 4)).astype(np.float32) for n in (8, 9, 10)]
    t = Trainer(max_epochs=2, batch_size=2, n_frames=4, optimizer="adamw", weight_decay=0.1,
                device="cpu", random_state=0).fit(MLPEncoder(4, 2), videos, _pair_loss)
    assert isinstance(t.optimizer_, torch.optim.AdamW)
    assert t.optimizer_.param_groups[0]["weight_decay"] == 0.1


def test_checkpoint_directory_and_empty_file_say_why(tmp_path):
    # before: a directory gave "does not exist"; an empty file an EOF error with no reason
    with pytest.raises(ValueError, match=r"^checkpoint '.*' is a directory; give the checkpoint file's path\.$"):
        load_checkpoint(tmp_path)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"^checkpoint '.*empty\.pt' is empty \(0 bytes\)"):
        load_checkpoint(tmp_path / "empty.pt")
