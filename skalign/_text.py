"""Text of progress lines. Standard library only, so that writing a video
(which needs no torch) and the training engine share it."""

from __future__ import annotations

__all__ = ["clock"]


def clock(seconds: float) -> str:
    """``12.3s``, ``4m05s`` or ``2h07m``.

    Examples
    --------
    >>> from skalign._text import clock
    >>> clock(12.34), clock(245), clock(7650)
    ('12.3s', '4m05s', '2h07m')
    """
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
