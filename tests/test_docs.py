"""The documentation builds without warnings, and its code runs.

The Sphinx build runs with ``-W`` (warnings are errors) and without
executing the gallery (``SKALIGN_DOCS_PLOT_GALLERY=0``): every example is
run on its own below, in a fresh process, so a broken example still fails.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("plot_*.py"))

pytestmark = pytest.mark.slow


def _needs(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"documentation tools not installed: {', '.join(missing)}")


def _run(args: list[str], cwd: Path, timeout: int = 600, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "MPLBACKEND": "Agg", **env}
    return subprocess.run(
        args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


def _code_blocks(rst: Path) -> str:
    """The ``.. code-block:: python`` blocks of a page, in order, as one script."""
    text = rst.read_text()
    blocks = re.findall(r"^\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)", text, flags=re.M)
    assert blocks, f"{rst} has no python code block"
    return "\n".join(textwrap.dedent(b) for b in blocks)


def test_docs_build_without_warnings(tmp_path):
    _needs("sphinx", "sphinx_gallery", "matplotlib")
    # Build a copy, so that generated files never land in the source tree and
    # parallel builds do not collide.
    skip = shutil.ignore_patterns("_build", "generated", "auto_examples", "sg_execution_times.rst")
    shutil.copytree(DOCS, tmp_path / "docs", ignore=skip)
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    out = tmp_path / "html"
    proc = _run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(tmp_path / "docs"), str(out)],
        cwd=tmp_path / "docs", SKALIGN_DOCS_PLOT_GALLERY="0",
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    for page in [
        "index.html", "install.html", "quickstart.html", "api.html",
        "user_guide/optimal_transport.html", "user_guide/evaluation.html",
        "user_guide/data_io.html", "user_guide/training.html", "user_guide/estimators.html",
        "generated/skalign.VideoAligner.html", "generated/skalign.ActionSegmenter.html",
        "generated/skalign.ot.vaot.html", "generated/skalign.metrics.kendalls_tau.html",
        "generated/skalign.plotting.plot_alignment.html", "generated/skalign.io.VideoCollection.html",
        "auto_examples/index.html",
    ] + [f"auto_examples/{f.stem}.html" for f in EXAMPLE_FILES]:
        assert (out / page).is_file(), page
    ot_page = (out / "user_guide/optimal_transport.html").read_text()
    assert r"\langle C^x T C^y, T \rangle" in ot_page  # math reached MathJax
    assert "unpickling a file can run arbitrary code" in (out / "user_guide/training.html").read_text()
    api = (out / "api.html").read_text()
    for name in ["skalign.ot.vaot", "skalign.metrics.mof", "skalign.io.read_video",
                 "skalign.datasets.make_process_videos", "skalign.engine.Trainer",
                 "skalign.encoders.MLPEncoder", "skalign.plotting.plot_segmentation",
                 "skalign.Timeline", "skalign.io.write_synced_video", "skalign.plotting.plot_timeline",
                 "skalign.metrics.timeline_accuracy"]:
        assert f"generated/{name}.html" in api, name


@pytest.mark.parametrize("page", ["index.rst", "quickstart.rst", "user_guide/training.rst",
                                  "user_guide/many_videos.rst"])
def test_page_code_runs(page, tmp_path):
    _needs("matplotlib")
    script = tmp_path / "page.py"
    script.write_text(_code_blocks(DOCS / page))
    proc = _run([sys.executable, str(script)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-5000:]


README_SNIPPETS = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), flags=re.M | re.S)


def test_readme_has_python_snippets():
    assert len(README_SNIPPETS) >= 3


@pytest.mark.parametrize("index", range(len(README_SNIPPETS)))
def test_readme_snippet_runs_alone(index, tmp_path):
    # Each snippet as written, in a fresh process: it must need nothing from
    # the snippets before it.
    script = tmp_path / "snippet.py"
    script.write_text(README_SNIPPETS[index])
    proc = _run([sys.executable, str(script)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-5000:]


def _example_id(path: Path) -> str:
    return path.stem


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=_example_id)
def test_example_runs(example, tmp_path):
    _needs("matplotlib")
    if example.stem == "plot_real_videos":
        from skalign._frame_features import WeightsNotFoundError, default_weights

        try:
            default_weights("mobilenet_v2")
        except WeightsNotFoundError:
            pytest.skip("the MobileNetV2 ImageNet weights are not installed")
    proc = _run([sys.executable, str(example)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-5000:]
    out = proc.stdout
    if example.stem == "plot_solver_scaling":
        # skalign with POT's inner settings reaches POT's plan on every size
        gaps = [float(m) for m in re.findall(r"^\s*\d+\s+\d+\s+\S+\s+(\S+)$", out, flags=re.M)]
        assert len(gaps) >= 3 and max(gaps) < 1e-6, out
    if example.stem == "plot_asot_segmentation" and "reference (authors' solver)" in out:
        # the authors' solver on the same affinities: MoF and mIoU of shared/data/README.md
        ours = re.findall(r"^\s+ASOT\s+MoF (\S+) .* mIoU (\S+)$", out, flags=re.M)
        refs = re.findall(r"reference \(authors' solver\): MoF (\S+)\s+mIoU (\S+)", out)
        assert len(refs) == 2 and len(ours) == 2, out
        for (mof, miou), (ref_mof, ref_miou) in zip(ours, refs):
            assert abs(float(mof) - float(ref_mof)) <= 0.002
            assert abs(float(miou) - float(ref_miou)) <= 0.002


def test_segmentation_example_without_shared_data(tmp_path):
    """The fallback to synthetic videos when ``shared/data`` is absent."""
    _needs("matplotlib")
    example = EXAMPLES / "plot_asot_segmentation.py"
    proc = _run([sys.executable, str(example)], cwd=tmp_path,
                SKALIGN_SHARED_DATA=str(tmp_path / "absent"))
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert "synthetic process videos instead" in proc.stdout
    assert "asot-examples not found" in proc.stdout
