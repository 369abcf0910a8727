"""read_video / write_video / video_info against the source frames."""

from __future__ import annotations

import math
import wave
from fractions import Fraction

import av
import numpy as np
import pytest

from skalign.io import read_video, video_info, write_video


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


@pytest.mark.parametrize("codec", ["h264", "mpeg4"])
def test_round_trip_close_to_source(tmp_path, make_smooth, codec):
    frames = make_smooth(24, 96, 128)
    path = write_video(tmp_path / "clip.mp4", frames, 24, codec=codec)
    back = read_video(path)
    assert back.shape == frames.shape and back.dtype == np.uint8
    # Floor: what yuv420p storage alone loses (PyAV's own conversion, no codec).
    floor = np.stack(
        [
            av.VideoFrame.from_ndarray(f, format="rgb24")
            .reformat(format="yuv420p")
            .reformat(format="rgb24")
            .to_ndarray()
            for f in frames
        ]
    )
    floor_err = np.abs(floor.astype(int) - frames.astype(int)).mean()
    err = np.abs(back.astype(int) - frames.astype(int))
    assert err.mean() <= floor_err + 1.0
    assert np.abs(back.astype(int) - floor.astype(int)).mean() < 2.0
    assert _psnr(back, frames) > 35
    # The same file decoded by PyAV directly, without skalign's scaler reuse.
    with av.open(str(path)) as container:
        ref = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    np.testing.assert_array_equal(back, ref)


def test_quality_trades_size_for_error(tmp_path, make_smooth):
    frames = make_smooth(12, 48, 64)
    errs, sizes = [], []
    for q in (1, 8, 31):
        path = write_video(tmp_path / f"q{q}.mp4", frames, 12, codec="mpeg4", quality=q)
        errs.append(np.abs(read_video(path).astype(int) - frames.astype(int)).mean())
        sizes.append(path.stat().st_size)
    assert errs[0] < errs[1] < errs[2]
    assert sizes[0] > sizes[1] > sizes[2]


@pytest.mark.parametrize("codec", ["h264", "mpeg4"])
def test_every_frame_survives_the_encoder_flush(tmp_path, make_levels, codec):
    # libx264 holds frames back (lookahead, B-frames); without flushing the
    # encoder the last ones are lost.
    frames = make_levels(7)
    back = read_video(write_video(tmp_path / "short.mp4", frames, 30, codec=codec))
    assert len(back) == 7
    assert np.abs(back.astype(int) - frames.astype(int)).max() <= 3


def test_frame_indices_equal_the_same_frames_of_a_full_decode(level_clip):
    path, _ = level_clip
    full = read_video(path)
    for idx in ([0], [29], [5, 1, 5, 29, 0], list(range(0, 30, 4)), []):
        got = read_video(path, frame_indices=idx)
        np.testing.assert_array_equal(got, full[np.asarray(idx, dtype=int)])
    got = read_video(path, frame_indices=np.array([9, 2]), size=(8, 12))
    np.testing.assert_array_equal(got, read_video(path, size=(8, 12))[[9, 2]])


@pytest.mark.parametrize("fps", [10, 15, 7, 60, 29.97, 1, 0.5])
def test_fps_resampling_count_and_frames(level_clip, fps):
    path, frames = level_clip  # 30 frames at 30 fps: one second
    full = read_video(path)
    got = read_video(path, fps=fps)
    # Output frame k shows the instant k / fps of a 1-second clip.
    expected_n = math.ceil(1.0 * fps - 1e-9)
    assert len(got) == expected_n
    source = np.floor(np.arange(expected_n) / fps * 30 + 1e-9).astype(int)
    np.testing.assert_array_equal(got, full[source])
    assert video_info(path, fps=fps).n_frames == expected_n
    idx = [expected_n - 1, 0]
    np.testing.assert_array_equal(read_video(path, fps=fps, frame_indices=idx), got[idx])


def test_fps_upsampling_repeats_each_frame(level_clip):
    path, _ = level_clip
    full = read_video(path)
    np.testing.assert_array_equal(read_video(path, fps=90), np.repeat(full, 3, axis=0))


def test_timestamps_not_indices_at_ntsc_rate(tmp_path, make_levels):
    # 30000/1001 fps: the mp4 time base is not 1/fps, so pts are not indices.
    frames = make_levels(20)
    path = write_video(tmp_path / "ntsc.mp4", frames, Fraction(30000, 1001))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = [f.pts for f in container.decode(stream)]
        time_base = stream.time_base
    assert pts[1] - pts[0] != 1
    info = video_info(path)
    assert info.n_frames == 20
    assert info.fps == pytest.approx(30000 / 1001, rel=1e-4)
    assert info.duration == pytest.approx(float(pts[-1] * time_base) + 1001 / 30000, rel=1e-4)
    # Resampling to the source's own rate keeps every frame.
    np.testing.assert_array_equal(read_video(path, fps=30000 / 1001), read_video(path))
    # A float rate is accepted for writing (PyAV itself wants a Fraction).
    path2 = write_video(tmp_path / "float.mp4", frames, 29.97)
    assert video_info(path2).fps == pytest.approx(29.97, rel=1e-4)


def test_video_info_matches_read_video(tmp_path, make_smooth):
    frames = make_smooth(45, 16, 20)
    path = write_video(tmp_path / "c.mp4", frames, 15)
    info = video_info(path)
    assert (info.n_frames, info.height, info.width) == (45, 16, 20)
    assert info.fps == pytest.approx(15.0)
    assert info.duration == pytest.approx(3.0)
    assert info.codec == "h264"
    for fps in (5, 7.5, 40):
        assert video_info(path, fps=fps).n_frames == len(read_video(path, fps=fps))


def test_size_and_max_frames(tmp_path, make_smooth):
    frames = make_smooth(12, 64, 96)
    path = write_video(tmp_path / "c.mp4", frames, 12)
    small = read_video(path, size=(32, 48))
    assert small.shape == (12, 32, 48, 3)
    # Halving smooth content: close to 2x2 block means of the full decode.
    full = read_video(path).astype(np.float64)
    pooled = full.reshape(12, 32, 2, 48, 2, 3).mean(axis=(2, 4))
    assert np.abs(small - pooled).mean() < 3.0
    assert read_video(path, size=20).shape == (12, 20, 20, 3)
    capped = read_video(path, max_frames=5)
    np.testing.assert_array_equal(capped, read_video(path)[:5])
    np.testing.assert_array_equal(
        read_video(path, max_frames=5, frame_indices=[4, 1]), capped[[4, 1]]
    )
    with pytest.raises(ValueError, match="has 5 frames"):
        read_video(path, max_frames=5, frame_indices=[5])


@pytest.mark.parametrize("codec", ["h264", "mpeg4"])
def test_odd_sizes(tmp_path, make_smooth, codec):
    frames = make_smooth(6, 63, 85)
    back = read_video(write_video(tmp_path / "odd.mp4", frames, 10, codec=codec))
    if codec == "h264":  # yuv420p in libx264 needs even sizes: padded by an edge copy
        assert back.shape == (6, 64, 86, 3)
        # the added row and column repeat the last source row and column
        assert np.abs(back[:, 63, :85].astype(int) - frames[:, 62].astype(int)).mean() < 4
        assert np.abs(back[:, :63, 85].astype(int) - frames[:, :, 84].astype(int)).mean() < 4
    else:
        assert back.shape == (6, 63, 85, 3)
    assert np.abs(back[:, :63, :85].astype(int) - frames.astype(int)).mean() < 3


def test_missing_file(tmp_path):
    path = tmp_path / "nope.mp4"
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        read_video(path)
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        video_info(path)


def test_text_file_renamed_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are not frames\n" * 20)
    with pytest.raises(ValueError, match="notes.mp4") as info:
        read_video(path)
    assert "Invalid data" in str(info.value)  # PyAV's reason is passed on


def test_empty_and_directory(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.mp4"):
        read_video(empty)
    with pytest.raises(ValueError, match="directory"):
        read_video(tmp_path)


def test_truncated_file(tmp_path, make_smooth):
    path = write_video(tmp_path / "whole.mp4", make_smooth(20, 32, 32), 20)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.mp4"):
        read_video(cut)


def test_corrupt_frame_data(tmp_path, make_smooth):
    path = write_video(tmp_path / "whole.mp4", make_smooth(20, 32, 32), 20)
    data = bytearray(path.read_bytes())
    start, end = data.find(b"mdat") + 200, data.find(b"moov") - 100
    assert 0 < start < end  # the frame data lies between the two boxes
    rng = np.random.default_rng(0)
    data[start:end:3] = rng.integers(0, 256, len(range(start, end, 3)), dtype=np.uint8).tobytes()
    bad = tmp_path / "garbled.mp4"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="garbled.mp4"):
        read_video(bad)


def test_file_without_video_stream(tmp_path):
    path = tmp_path / "sound.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(800, dtype=np.int16).tobytes())
    with pytest.raises(ValueError, match="sound.wav holds no video stream"):
        read_video(path)


def test_bad_arguments(tmp_path, make_levels):
    frames = make_levels(4)
    path = write_video(tmp_path / "c.mp4", frames, 10)
    with pytest.raises(ValueError, match="fps"):
        read_video(path, fps=0)
    with pytest.raises(ValueError, match="size"):
        read_video(path, size=(0, 4))
    with pytest.raises(ValueError, match="max_frames"):
        read_video(path, max_frames=0)
    with pytest.raises(ValueError, match="non-negative"):
        read_video(path, frame_indices=[-1])
    with pytest.raises(ValueError, match="frame 4 but .* has 4 frames"):
        read_video(path, frame_indices=[0, 4])
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "f.mp4", frames.astype(np.float32), 10)
    with pytest.raises(ValueError, match="shape"):
        write_video(tmp_path / "f.mp4", frames[..., 0], 10)
    with pytest.raises(ValueError, match="codec"):
        write_video(tmp_path / "f.mp4", frames, 10, codec="vp9")
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "f.mp4", frames, -1)
    with pytest.raises(ValueError, match="quality"):
        write_video(tmp_path / "f.mp4", frames, 10, codec="mpeg4", quality=0)
    with pytest.raises(ValueError, match="empty"):
        write_video(tmp_path / "f.mp4", frames[:0], 10)
    with pytest.raises(FileNotFoundError, match="folder"):
        write_video(tmp_path / "no" / "f.mp4", frames, 10)


def _write_size_change(path, parts, fps=10):
    """An mp4 whose frame size changes mid-stream: each part is encoded as
    MPEG-TS (mpeg4, no B-frames, continuous timestamps), the parts are
    concatenated and the packets are remuxed into one mp4 stream."""
    import io

    data = b""
    start = 0
    for frames in parts:
        buf = io.BytesIO()
        out = av.open(buf, "w", format="mpegts")
        st = out.add_stream("mpeg4", rate=fps)
        st.height, st.width = frames.shape[1:3]
        st.pix_fmt = "yuv420p"
        st.codec_context.time_base = Fraction(1, fps)
        for k, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = start + k, Fraction(1, fps)
            for p in st.encode(frame):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
        out.close()
        data += buf.getvalue()
        start += len(frames)
    src = av.open(io.BytesIO(data), format="mpegts")
    dst = av.open(str(path), "w")
    ist = src.streams.video[0]
    ost = dst.add_stream_from_template(ist)
    for p in src.demux(ist):
        if p.dts is None:
            continue
        p.stream = ost
        dst.mux(p)
    dst.close()
    src.close()
    return path


@pytest.fixture
def size_change_clip(tmp_path, make_levels):
    path = _write_size_change(tmp_path / "resized.mp4",
                              [make_levels(5, 32, 32), make_levels(4, 48, 64)])
    with av.open(str(path)) as c:  # the file really changes size at frame 5
        assert [(f.height, f.width) for f in c.decode(video=0)] == [(32, 32)] * 5 + [(48, 64)] * 4
    return path


def test_frame_size_change_names_file_and_frame(size_change_clip):
    # before: "could not broadcast input array from shape (48,64,3) into shape (32,32,3)"
    msg = (r"resized\.mp4: the frame size changes mid-stream at frame 5, from 32x32 to 64x48 "
           r"pixels \(width x height\); pass size=\(height, width\)")
    with pytest.raises(ValueError, match=msg):
        read_video(size_change_clip)
    with pytest.raises(ValueError, match=r"resized\.mp4: the frame size changes mid-stream at frame 6"):
        read_video(size_change_clip, frame_indices=[0, 6])
    from skalign.io import load_video
    with pytest.raises(ValueError, match=r"^videos\[2\]: .*resized\.mp4: the frame size changes"):
        load_video(size_change_clip, name="videos[2]")


def test_frame_size_change_with_size_resizes(size_change_clip):
    frames = read_video(size_change_clip, size=(24, 20))
    assert frames.shape == (9, 24, 20, 3)
    assert read_video(size_change_clip, frame_indices=[6, 7]).shape == (2, 48, 64, 3)


def test_video_info_says_sizes_vary(size_change_clip, tmp_path, make_levels):
    # before: height=48, width=64 (the last frame's) and no word of the change
    info = video_info(size_change_clip)
    assert info.n_frames == 9 and info.sizes_vary
    assert info.sizes == ((32, 32), (48, 64)) and (info.height, info.width) == (32, 32)
    assert video_info(size_change_clip, fps=5).sizes == ((32, 32), (48, 64))
    plain = write_video(tmp_path / "plain.mp4", make_levels(6, 16, 16), 10)
    info = video_info(plain)
    assert not info.sizes_vary and info.sizes == ((16, 16),)
