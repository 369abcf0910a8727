"""Sphinx configuration of the skalign documentation.

Build offline with warnings as errors::

    cd docs && python -m sphinx -W -b html . _build/html     # or: make html

Set ``SKALIGN_DOCS_PLOT_GALLERY=0`` to build without running the examples.
"""

from __future__ import annotations

import os
import re

import skalign

project = "skalign"
author = "skalign developers"
copyright = "skalign developers, BSD-3-Clause"
version = release = skalign.__version__

try:  # numpydoc (the docs extra) renders skalign's docstrings; napoleon is the fallback
    import numpydoc  # noqa: F401

    _docstrings = "numpydoc"
except ImportError:
    _docstrings = "sphinx.ext.napoleon"
    # numpydoc renders "References" sections as citations; napoleon leaves
    # their ".. [1]" entries as footnotes that the text does not cite.
    suppress_warnings = ["ref.footnote"]

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    _docstrings,
    "sphinx_gallery.gen_gallery",
]
# No intersphinx: the documentation builds offline.

templates_path = ["_templates"]  # autosummary/class.rst: one page per class, members inline

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json",
                    "auto_examples/*.md5"]
root_doc = "index"

# -- autodoc / autosummary / numpydoc ---------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"  # the numpydoc Parameters sections carry the types
numpydoc_show_class_members = False  # the class template documents members inline
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True

# -- sphinx-gallery ---------------------------------------------------------
plot_gallery = os.environ.get("SKALIGN_DOCS_PLOT_GALLERY", "1") not in ("0", "false", "False")
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # run every example
    "abort_on_example_error": True,
    "plot_gallery": plot_gallery,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
}

# -- HTML -------------------------------------------------------------------
try:
    import pydata_sphinx_theme  # noqa: F401

    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_toc_level": 2,
    }
except ImportError:  # the built-in theme, so the build never needs a download
    html_theme = "alabaster"
html_title = f"skalign {release}"
html_static_path: list[str] = []
html_show_sourcelink = False


# -- docstring fix-ups --------------------------------------------------------
# numpydoc renders the type of a parameter or attribute as reST, where a
# star starts emphasis: "video : torch.Tensor of shape (n_total, *frame_shape)"
# (skalign/engine/_sampler.py, gather_frames and FrameBatch) would fail the
# -W build with "Inline emphasis start-string without end-string". Escape a
# star that starts a shape name at the end of a shape tuple, on numpydoc
# "name : type" lines only, before numpydoc reads the docstring. Nothing else
# is touched.
_TYPE_LINE = re.compile(r"^\s*\*{0,2}[A-Za-z_][\w, *]* : ")
_SHAPE_STAR = re.compile(r"(?<=[\s(,\]])\*(?=[A-Za-z_]\w*\))")


def _escape_shape_stars(app, what, name, obj, options, lines):
    for k, line in enumerate(lines):
        if "``" not in line and _TYPE_LINE.match(line):
            lines[k] = _SHAPE_STAR.sub(r"\\*", line)


def _skip_tuple_field_aliases(app, what, name, obj, skip, options):
    """NamedTuple fields (``ProcessSegment.kind``, ...) are described in the
    class's Attributes section; their generated "Alias for field number 0"
    entries would only repeat them."""
    doc = getattr(obj, "__doc__", None) or ""
    if what == "class" and doc.startswith("Alias for field number"):
        return True
    return None


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """scikit-learn generates ``set_<method>_request`` methods on every
    estimator for metadata routing; they are documented by scikit-learn, and
    their docstrings point into its own glossary."""
    if what == "class" and name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-process-docstring", _escape_shape_stars, priority=100)
    app.connect("autodoc-skip-member", _skip_tuple_field_aliases)
    app.connect("autodoc-skip-member", _skip_metadata_requests)
