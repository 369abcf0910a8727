"""write_synced_video: tiles against the source frames they must show."""

from __future__ import annotations

import types

import numpy as np
import pytest

import skalign.io._sync as sync_module
from skalign.io import read_video, video_info, write_synced_video, write_video

# Geometry of the grids below, from the documented layout: sources are
# 40 x 60, tile=32 gives 32 x 48 tiles (the aspect ratio kept), 3 videos
# give ceil(sqrt(3)) = 2 columns, the marker border is 4 pixels wide and
# the label strip 6 pixels high.
TILE_H, TILE_W, BORDER, STRIP = 32, 48, 4, 6
N_FRAMES = (8, 6, 7)
# Held frames, skipped frames, backward jumps (6 -> 3 in video 0, 5 -> 2 in
# video 1) and -1 runs, at the start of video 1 (nothing shown yet) and
# after shown frames.
MAPS = [
    [0, 1, 1, 2, 5, 6, 3, 4, -1, 7],
    [-1, -1, 0, 0, 1, 3, -1, 5, 5, 2],
    [0, 1, 2, 3, 4, 5, 6, 6, 6, 6],
]
TOL = 6  # levels; neighbouring frames differ by 25


def colour(i: int, k: np.ndarray | int) -> np.ndarray:
    """The flat RGB colour of frame ``k`` of video ``i``."""
    k = np.asarray(k)
    return np.stack([20 + 25 * k, 40 + 70 * i + 0 * k, 230 - 25 * k], axis=-1)


def make_video(i: int, n: int, height: int = 40, width: int = 60) -> np.ndarray:
    frames = np.empty((n, height, width, 3), dtype=np.uint8)
    frames[:] = colour(i, np.arange(n))[:, None, None, :].astype(np.uint8)
    return frames


@pytest.fixture
def clips(tmp_path):
    """The three videos as arrays and as near-lossless mp4 files at 10 fps."""
    arrays = [make_video(i, n) for i, n in enumerate(N_FRAMES)]
    folder = tmp_path / "in"
    folder.mkdir()
    paths = [write_video(folder / f"v{i}.mp4", a, 10, quality=0) for i, a in enumerate(arrays)]
    return arrays, paths


def origin(i: int, cell_h: int = TILE_H, columns: int = 2) -> tuple[int, int]:
    return (i // columns) * cell_h, (i % columns) * TILE_W


def interior(img: np.ndarray, i: int, cell_h: int = TILE_H) -> np.ndarray:
    """Mean colour of tile ``i`` away from its border and edges."""
    y, x = origin(i, cell_h)
    m = BORDER + 2
    return img[y + m:y + TILE_H - m, x + m:x + TILE_W - m].reshape(-1, 3).mean(axis=0)


def expected_tiles(maps, t: int, i: int) -> tuple[np.ndarray, bool]:
    """The colour tile ``i`` must show at step ``t``, and whether it is a marker."""
    k = maps[i][t]
    if k >= 0:
        return colour(i, k).astype(float), False
    shown = [m for m in maps[i][:t] if m >= 0]
    if not shown:
        return np.full(3, 96.0), True
    return 0.35 * colour(i, shown[-1]), True


def check_grid(out: np.ndarray, maps, cell_h: int = TILE_H) -> None:
    assert out.shape == (len(maps[0]), 2 * cell_h, 2 * TILE_W, 3)
    for t in range(len(maps[0])):
        for i in range(len(maps)):
            want, marker = expected_tiles(maps, t, i)
            got = interior(out[t], i, cell_h)
            assert np.abs(got - want).max() <= TOL, (t, i, got, want)
            y, x = origin(i, cell_h)
            # The middle of the top border, away from the corners. Colours
            # blur across tile edges (yuv420p keeps colour at half
            # resolution), but red's green channel is 0, every frame's >= 40.
            border = out[t, y + 1:y + 3, x + 6:x + TILE_W - 6].reshape(-1, 3).mean(axis=0)
            if marker:
                assert np.abs(border - [255, 0, 0]).max() <= 15, (t, i, border)
            else:
                assert np.abs(border - want).max() <= 20, (t, i, border)
        # The fourth cell of the 2 x 2 grid is unused: black.
        y, x = origin(3, cell_h)
        assert out[t, y + 2:y + TILE_H - 2, x + 2:x + TILE_W - 2].max() <= 4


def test_tiles_show_the_mapped_frames_of_files(clips, tmp_path):
    _, paths = clips
    out = write_synced_video(paths, MAPS, tmp_path / "sync.mp4", tile=TILE_H, quality=0)
    assert out == tmp_path / "sync.mp4"
    back = read_video(out)
    check_grid(back, MAPS)
    # One step a frame, at the rate in the first file's header.
    assert video_info(out).fps == pytest.approx(10.0)


def test_arrays_and_files_give_the_same_video(clips, tmp_path):
    arrays, paths = clips
    timeline = types.SimpleNamespace(frames=[np.array(m) for m in MAPS])  # a Timeline-like object
    a = read_video(write_synced_video(arrays, timeline, tmp_path / "a.mp4", tile=TILE_H, quality=0,
                                      out_fps=10))
    b = read_video(write_synced_video(paths, MAPS, tmp_path / "b.mp4", tile=TILE_H, quality=0))
    check_grid(a, MAPS)
    assert a.shape == b.shape
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 1.5
    # Mixed inputs too.
    c = read_video(write_synced_video([arrays[0], paths[1], arrays[2]], MAPS, tmp_path / "c.mp4",
                                      tile=TILE_H, quality=0))
    assert np.abs(a.astype(int) - c.astype(int)).mean() < 1.5


def test_indices_count_frames_at_the_decode_fps(clips, tmp_path):
    _, paths = clips
    # At fps=5 the 10 fps file's frame k is decoded frame 2k.
    out = write_synced_video([paths[0]], [[0, 1, 2, 3, 1]], tmp_path / "half.mkv", fps=5,
                             tile=TILE_H, quality=0)
    back = read_video(out)
    assert back.shape == (5, TILE_H, TILE_W, 3)
    for t, k in enumerate([0, 2, 4, 6, 2]):
        got = back[t, 4:-4, 4:-4].reshape(-1, 3).mean(axis=0)
        assert np.abs(got - colour(0, k)).max() <= TOL
    assert video_info(out).fps == pytest.approx(5.0)


def test_label_strips_take_the_class_colours(clips, tmp_path):
    _, paths = clips
    labels = [np.arange(n) % 3 - 1 for n in N_FRAMES]  # -1 (background), 0, 1, ...
    out = read_video(write_synced_video(paths, MAPS, tmp_path / "lab.mp4", tile=TILE_H,
                                        labels=labels, quality=0))
    cell_h = TILE_H + STRIP
    check_grid(out, MAPS, cell_h)
    # Independent colours: background light grey, classes 0 and 1 the first
    # two dark shades of tab20 (blue, orange).
    rgb = {-1: (204, 204, 204), 0: (31, 119, 180), 1: (255, 127, 14)}
    for t in range(len(MAPS[0])):
        for i in range(3):
            y, x = origin(i, cell_h)
            got = out[t, y + TILE_H + 2:y + cell_h - 2, x + 4:x + TILE_W - 4].reshape(-1, 3).mean(axis=0)
            k = MAPS[i][t]
            want = rgb[int(labels[i][k])] if k >= 0 else (0, 0, 0)
            assert np.abs(got - want).max() <= 12, (t, i, got, want)


def test_palette_matches_the_plots():
    plotting = pytest.importorskip("skalign.plotting")
    pytest.importorskip("matplotlib")
    for c in range(-1, 25):
        want = np.round(np.array(plotting.class_color(c)[:3]) * 255)
        assert np.array_equal(sync_module._label_rgb(c), want), c


def test_refusals_before_decoding(clips, tmp_path, monkeypatch):
    arrays, paths = clips

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded before validating")

    monkeypatch.setattr(sync_module, "iter_frames", no_decoding)
    monkeypatch.setattr(sync_module, "_open_video", no_decoding)
    two = [paths[0], paths[1]]
    maps = [[0, 1], [1, 2]]
    original = paths[0].read_bytes()
    for overwrite in (False, True):
        with pytest.raises(ValueError, match=r"is videos\[0\].*an input; write the synced video to another"):
            write_synced_video(two, maps, paths[0], overwrite=overwrite)
        with pytest.raises(ValueError, match="an input"):  # the same file by another spelling
            write_synced_video(two, maps, paths[0].parent / ".." / "in" / "v0.mp4", overwrite=overwrite)
    assert paths[0].read_bytes() == original
    existing = tmp_path / "old.mp4"
    existing.write_bytes(b"keep me")
    with pytest.raises(ValueError, match="already exists; pass overwrite=True"):
        write_synced_video(two, maps, existing)
    assert existing.read_bytes() == b"keep me"
    with pytest.raises(ValueError, match="folder .*does not exist; create it"):
        write_synced_video(two, maps, tmp_path / "nowhere" / "out.mp4")
    with pytest.raises(ValueError, match=r"suffix must be one of .avi, .mkv, .mov, .mp4.*'out.mp4'"):
        write_synced_video(two, maps, tmp_path / "out.gif")
    with pytest.raises(ValueError, match="frames holds 1 frame maps but there are 2 videos"):
        write_synced_video(two, maps[:1], tmp_path / "out.mp4")
    with pytest.raises(ValueError, match=r"frames\[1\] \(for videos\[1\] \(.*v1.mp4\)\) has 3 steps but frames\[0\] has 2"):
        write_synced_video(two, [[0, 1], [0, 1, 2]], tmp_path / "out.mp4")
    with pytest.raises(ValueError, match=r"frames\[1\]\[0\] is -2"):
        write_synced_video(two, [[0, 1], [-2, 1]], tmp_path / "out.mp4")
    with pytest.raises(ValueError, match="must hold ints"):
        write_synced_video(two, [[0, 1], [0.0, 1.0]], tmp_path / "out.mp4")
    with pytest.raises(ValueError, match="non-empty"):
        write_synced_video(two, [[], []], tmp_path / "out.mp4")
    with pytest.raises(FileNotFoundError, match=r"videos\[1\] \(.*missing.mp4\)"):
        write_synced_video([paths[0], tmp_path / "missing.mp4"], maps, tmp_path / "out.mp4")
    # Arrays: an index past the end is found before decoding.
    with pytest.raises(ValueError, match=r"frames\[1\]\[1\] asks for frame 6 of videos\[1\], which has 6 frames"):
        write_synced_video(arrays[:2], [[0, 1], [5, 6]], tmp_path / "out.mp4")
    with pytest.raises(ValueError, match=r"labels\[0\] holds 3 labels but videos\[0\] has 8 frames"):
        write_synced_video(arrays[:2], maps, tmp_path / "out.mp4", labels=[[0, 0, 0], [0] * 6])
    with pytest.raises(ValueError, match=r"labels\[1\] holds 2 labels but frames\[1\] shows frame 2"):
        write_synced_video(two, maps, tmp_path / "out.mp4", labels=[[0] * 8, [0, 0]])
    with pytest.raises(ValueError, match=r"videos\[1\] must be a video file or RGB frames"):
        write_synced_video([arrays[0], arrays[1].astype(float)], maps, tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "old.mp4"]


@pytest.mark.parametrize("labels", [False, True])
def test_errors_while_streaming_leave_no_file(clips, tmp_path, labels):
    _, paths = clips
    folder = tmp_path / "out"
    folder.mkdir()
    if labels:
        # One label too many for video 1: found after the last step.
        lab = [np.zeros(N_FRAMES[0], int), np.zeros(N_FRAMES[1] + 1, int)]
        maps, match = [[0, 1, 2], [0, 1, 2]], r"labels\[1\] holds 7 labels but videos\[1\] \(.*v1.mp4\) has 6 frames"
    else:
        lab = None
        # Past the end of video 1 after 60 steps: the encoder has written
        # packets by then.
        maps, match = [[0] * 60 + [1], [0] * 60 + [9]], (
            r"frames\[1\]\[60\] asks for frame 9 of videos\[1\] \(.*v1.mp4\), which has 6 frames; "
            "the frame maps must count frames as decoded with the same fps"
        )
    with pytest.raises(ValueError, match=match):
        write_synced_video(paths[:2], maps, folder / "sync.mp4", labels=lab, tile=TILE_H)
    assert list(folder.iterdir()) == []  # neither the output nor a temporary file


def test_streams_in_small_batches_at_tile_size(clips, tmp_path, monkeypatch):
    _, paths = clips
    real = sync_module.iter_frames
    opened: list[str] = []
    batches: list[tuple[int, ...]] = []
    live = [0, 0]  # decoders open now, most open at once

    def spy(path, **kwargs):
        opened.append(str(path))
        live[0] += 1
        live[1] = max(live)
        try:
            for batch in real(path, **kwargs):
                batches.append(batch.shape)
                yield batch
        finally:
            live[0] -= 1

    def no_read_video(*args, **kwargs):
        raise AssertionError("read_video holds a whole video")

    monkeypatch.setattr(sync_module, "iter_frames", spy)
    monkeypatch.setattr("skalign.io._video.read_video", no_read_video)
    monkeypatch.setattr("skalign.io.read_video", no_read_video)
    write_synced_video(paths, MAPS, tmp_path / "sync.mp4", tile=TILE_H)
    assert batches and max(b[0] for b in batches) <= 4
    assert {b[1:] for b in batches} == {(TILE_H, TILE_W, 3)}
    # One decoder per video, plus one reopening per backward jump (videos 0
    # and 1 have one each); all closed at the end.
    assert sorted(opened) == sorted(map(str, [paths[0], paths[0], paths[1], paths[1], paths[2]]))
    assert live[1] <= 3 and live[0] == 0


def test_memory_holds_a_few_frames_per_video(tmp_path):
    import tracemalloc

    videos = [make_video(i, 80, 240, 320) for i in range(2)]
    paths = [write_video(tmp_path / f"big{i}.mp4", v, 10) for i, v in enumerate(videos)]
    whole = sum(v.nbytes for v in videos)  # 37 MB: the videos decoded at tile size too
    del videos
    maps = [np.arange(80), np.r_[np.arange(40), -np.ones(40, int)]]
    tracemalloc.start()  # numpy's buffers are traced
    try:
        write_synced_video(paths, maps, tmp_path / "sync.mp4", tile=240)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Per decoder its batch of 4 frames and the copy it yields, one grid
    # frame and a marker tile: about 5 MB.
    assert peak < whole / 4, peak


def test_progress_goes_to_stderr_only_when_asked(clips, tmp_path, capsys):
    arrays, _ = clips
    write_synced_video(arrays, MAPS, tmp_path / "quiet.mp4", tile=TILE_H)
    assert capsys.readouterr() == ("", "")
    write_synced_video(arrays, MAPS, tmp_path / "loud.mp4", tile=TILE_H, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "10/10 steps" in err and "steps/s" in err and "ETA" in err and err.endswith("\n")


def test_overwrite_replaces_and_options_are_checked(clips, tmp_path):
    arrays, _ = clips
    path = tmp_path / "sync.mov"
    path.write_bytes(b"old")
    write_synced_video(arrays[:2], [[0], [1]], path, overwrite=True, tile=(20, 30), columns=1)
    assert read_video(path).shape == (1, 40, 30, 3)
    for kwargs, match in [
        ({"quality": 60}, r"quality must be an int in \[0, 51\]"),
        ({"columns": 0}, "columns"),
        ({"tile": (0, 4)}, "tile"),
        ({"out_fps": -1}, "out_fps"),
        ({"threads": 0}, "threads"),
    ]:
        with pytest.raises(ValueError, match=match):
            write_synced_video(arrays[:2], [[0], [1]], tmp_path / "x.mp4", **kwargs)
    with pytest.raises(TypeError, match="wrap a single video in a list"):
        write_synced_video(arrays[0], [[0]], tmp_path / "x.mp4")
