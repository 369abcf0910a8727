"""The training engine reached from the estimators: callbacks, optimiser, torchrun."""

import textwrap

import numpy as np
import pytest
import torch

from skalign import ActionSegmenter, VideoAligner
from skalign.datasets import make_process_videos
from skalign.engine import LambdaCallback

FAST = dict(max_epochs=5, batch_size=2, n_frames=8, embedding_dim=4, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def videos():
    return make_process_videos(4, 3, n_frames=(16, 22), n_features=5, random_state=0)[0]


def test_a_callback_stops_training_early(videos):
    def stop(trainer, record):
        trainer.stop_training = record["epoch"] >= 2

    est = VideoAligner(callbacks=[LambdaCallback(on_epoch_end=stop)], **FAST).fit(videos)
    assert [r["epoch"] for r in est.history_] == [1, 2]
    # the callbacks do not change a fit that they let run
    seen = []
    watched = ActionSegmenter(2, callbacks=[LambdaCallback(on_epoch_end=lambda t, r: seen.append(r["loss"]))],
                              **FAST).fit(videos)
    plain = ActionSegmenter(2, **FAST).fit(videos)
    assert seen == [r["loss"] for r in plain.history_]
    np.testing.assert_array_equal(watched.transform(videos[0]), plain.transform(videos[0]))


def test_optimizer_reaches_the_engine(videos):
    kinds = []
    grab = LambdaCallback(on_train_begin=lambda trainer: kinds.append(type(trainer.optimizer_).__name__))
    VideoAligner(optimizer="adamw", weight_decay=0.1, callbacks=[grab], **FAST).fit(videos)
    VideoAligner(callbacks=[grab], **FAST).fit(videos)
    assert kinds == ["AdamW", "Adam"]
    with pytest.raises(ValueError, match="optimizer"):
        VideoAligner(optimizer="sgd", **FAST).fit(videos)


WORKER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import torch
    from skalign import VideoAligner
    from skalign.datasets import make_process_videos
    from skalign.engine import LambdaCallback

    out = sys.argv[1]
    videos = make_process_videos(4, 3, n_frames=(16, 22), n_features=5, random_state=0)[0]
    world = []
    est = VideoAligner(max_epochs=2, batch_size=2, n_frames=8, embedding_dim=4, device="cpu",
                       random_state=0, checkpoint=f"{out}/ck.pt",
                       callbacks=[LambdaCallback(on_train_begin=lambda t: world.append((t.rank, t.world_size)))])
    est.fit(videos)
    (rank, size), = world
    np.save(f"{out}/rank{rank}.npy", np.concatenate(est.transform(videos)))
    np.save(f"{out}/world{rank}.npy", np.array([rank, size]))
    """
)


@pytest.mark.slow
def test_an_estimator_under_torchrun_trains_data_parallel(tmp_path, launch_ranks):
    (tmp_path / "worker.py").write_text(WORKER)
    launch_ranks(tmp_path / "worker.py", tmp_path)
    assert np.load(tmp_path / "world0.npy").tolist() == [0, 2]
    assert np.load(tmp_path / "world1.npy").tolist() == [1, 2]
    # the ranks end with the same model
    np.testing.assert_array_equal(np.load(tmp_path / "rank0.npy"), np.load(tmp_path / "rank1.npy"))
    # rank 0 wrote the checkpoint, which holds the final weights
    state = torch.load(tmp_path / "ck.pt", weights_only=True)
    assert int(state["epoch"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if "ck" in p.name) == ["ck.pt"]
    # one process alone trains on other batches: data-parallel changed the fit
    alone = VideoAligner(max_epochs=2, batch_size=2, n_frames=8, embedding_dim=4, device="cpu",
                         random_state=0, distributed=False)
    videos = make_process_videos(4, 3, n_frames=(16, 22), n_features=5, random_state=0)[0]
    emb = np.concatenate(alone.fit(videos).transform(videos))
    assert not np.allclose(emb, np.load(tmp_path / "rank0.npy"))
