"""``import skalign`` and ``skalign --help/--version`` stay fast: the heavy
modules (torch, scikit-learn, scipy, numpy) load only when first used."""

import pickle
import subprocess
import sys
import time

import pytest

import skalign

HEAVY = ("torch", "sklearn", "scipy", "numpy")


def _python(*args, timeout=300):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env={"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PATH": ""})


def _loaded_after(statement):
    """The heavy modules in ``sys.modules`` after ``statement``, in a fresh interpreter."""
    code = f"import sys\n{statement}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = _python("-c", code)
    assert out.returncode == 0, out.stderr
    return [m for m in out.stdout.strip().split(",") if m]


@pytest.mark.parametrize("statement", ["import skalign", "import skalign.cli",
                                       "from skalign.cli import build_parser; build_parser()"])
def test_import_does_not_load_torch(statement):
    assert _loaded_after(statement) == []


@pytest.mark.parametrize("package", ["skalign.ot", "skalign.sequence", "skalign.engine"])
def test_lower_layers_do_not_load_scikit_learn(package):
    # the layering of the design: solvers, recursions and the engine know no sklearn
    assert "sklearn" not in _loaded_after(f"import {package}")


def test_names_load_on_first_use():
    assert "torch" in _loaded_after("import skalign; skalign.VideoAligner")
    assert "torch" in _loaded_after("from skalign import ActionSegmenter")


def test_version_is_printed_fast_without_torch():
    start = time.perf_counter()
    out = _python("-m", "skalign", "--version")
    elapsed = time.perf_counter() - start
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"skalign {skalign.__version__}"
    # a generous bound for a loaded machine; the import check above is the real guard
    assert elapsed < 1.5, f"python -m skalign --version took {elapsed:.2f} s"


def test_help_prints_usage():
    out = _python("-m", "skalign", "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: skalign")
    for word in ("demo", "fit", "align", "segment", "--version"):
        assert word in out.stdout


def test_public_names():
    from skalign import ActionSegmenter, Alignment, JointAlignSegment, VideoAligner, __version__
    from skalign._aligner import VideoAligner as defined

    assert VideoAligner is defined and skalign.VideoAligner is defined
    assert isinstance(__version__, str) and __version__ == skalign.__version__
    for cls in (ActionSegmenter, Alignment, JointAlignSegment):
        assert getattr(skalign, cls.__name__) is cls
    assert set(skalign.__all__) <= set(dir(skalign))
    assert {"ot", "metrics", "datasets"} <= set(dir(skalign))
    assert callable(skalign.ot.vaot) and callable(skalign.metrics.kendalls_tau)
    namespace = {}
    exec("from skalign import *", namespace)
    assert set(skalign.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no_such_name"):
        skalign.no_such_name  # noqa: B018


def test_a_fitted_estimator_unpickles_in_a_fresh_interpreter(tmp_path):
    from skalign import VideoAligner
    from skalign.datasets import make_process_videos

    videos, _ = make_process_videos(3, 3, n_frames=(20, 30), n_features=6, random_state=0)
    est = VideoAligner(max_epochs=1, device="cpu", random_state=0).fit(videos)
    path = tmp_path / "est.pkl"
    path.write_bytes(pickle.dumps(est))
    np_path = tmp_path / "v.npy"
    import numpy as np

    np.save(np_path, videos[0])
    expected = est.transform(videos[0])
    out = _python("-c", f"import pickle, numpy as np; est = pickle.load(open({str(path)!r}, 'rb')); "
                        f"print(type(est).__module__, type(est).__name__); "
                        f"np.save({str(tmp_path / 'emb.npy')!r}, est.transform(np.load({str(np_path)!r})))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["skalign._aligner", "VideoAligner"]
    np.testing.assert_allclose(np.load(tmp_path / "emb.npy"), expected, rtol=1e-5, atol=1e-6)
