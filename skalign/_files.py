"""Writing files safely: a temporary file beside the target, then a rename.

Standard library only, so that the command line can use it before it loads
torch.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "same_file"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; it replaces ``path``
    only when the block ends without an error, and is removed otherwise
    (Ctrl-C included), so that ``path`` holds either its old content or the
    whole new one.

    The temporary file keeps ``path``'s suffix (writers such as matplotlib
    choose the format by it) and gets the permissions of a plainly created
    file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skalign._files import atomic_path
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with atomic_path(Path(d) / "out.txt") as tmp:
    ...         _ = tmp.write_text("done")
    ...     (Path(d) / "out.txt").read_text(), len(list(Path(d).iterdir()))
    ('done', 1)
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name the same file (after links and ``..``).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from skalign._files import same_file
    >>> with tempfile.TemporaryDirectory() as d:
    ...     (Path(d) / "x").write_text("")
    ...     same_file(Path(d) / "x", Path(d) / "sub" / ".." / "x"), same_file(Path(d) / "x", d)
    0
    (True, False)
    """
    a, b = Path(a), Path(b)
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False
