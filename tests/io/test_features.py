"""read_features / write_features against numpy's own readers."""

from __future__ import annotations

import numpy as np
import pytest

from skalign.io import read_features, write_features


def test_txt_one_frame_a_row(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5))
    path = tmp_path / "v.txt"
    # Written by hand, as the action-segmentation data sets are.
    path.write_text("\n".join(" ".join(f"{v:.18e}" for v in row) for row in x) + "\n")
    got = read_features(path)
    assert got.shape == (7, 5) and got.dtype == np.float64
    np.testing.assert_array_equal(got, x)


def test_npy_keeps_dtype_and_mmap(tmp_path):
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    np.save(tmp_path / "v.npy", x)
    got = read_features(tmp_path / "v.npy")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, x)
    mapped = read_features(tmp_path / "v.npy", mmap=True)
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped[[5, 1]], x[[5, 1]])


def test_one_row_one_column_and_transpose(tmp_path):
    (tmp_path / "row.txt").write_text("1 2 3\n")
    assert read_features(tmp_path / "row.txt").shape == (1, 3)
    (tmp_path / "col.txt").write_text("1\n2\n3\n4\n")
    assert read_features(tmp_path / "col.txt").shape == (4, 1)
    np.save(tmp_path / "flat.npy", np.arange(5.0))
    assert read_features(tmp_path / "flat.npy").shape == (5, 1)
    x = np.arange(12.0).reshape(3, 4)  # 4 frames stored as columns
    np.save(tmp_path / "cols.npy", x)
    np.testing.assert_array_equal(read_features(tmp_path / "cols.npy", transpose=True), x.T)


@pytest.mark.parametrize("suffix", [".npy", ".txt"])
def test_write_read_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 3))
    path = write_features(tmp_path / f"v{suffix}", x)
    np.testing.assert_array_equal(read_features(path), x)
    ints = rng.integers(-5, 5, (4, 2))
    path = write_features(tmp_path / f"i{suffix}", ints)
    np.testing.assert_array_equal(read_features(path), ints)


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.txt"):
        read_features(tmp_path / "gone.txt")
    (tmp_path / "v.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match=r"\.npy or \.txt"):
        read_features(tmp_path / "v.csv")
    (tmp_path / "words.txt").write_text("a b\nc d\n")
    with pytest.raises(ValueError, match="words.txt"):
        read_features(tmp_path / "words.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="no frame"):
        read_features(tmp_path / "empty.txt")
    (tmp_path / "ragged.txt").write_text("1 2\n3\n")
    with pytest.raises(ValueError, match="ragged.txt"):
        read_features(tmp_path / "ragged.txt")
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        read_features(tmp_path / "cube.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="obj.npy"):
        read_features(tmp_path / "obj.npy")
    (tmp_path / "fake.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="fake.npy"):
        read_features(tmp_path / "fake.npy")
    with pytest.raises(ValueError, match="2-D"):
        write_features(tmp_path / "w.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"\.npy or \.txt"):
        write_features(tmp_path / "w.csv", np.zeros((3, 2)))
