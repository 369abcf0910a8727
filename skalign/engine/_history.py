"""Per-epoch record of a training run."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

__all__ = ["History"]


class History:
    """A list of per-epoch records (dicts of plain numbers and strings).

    Every record holds at least ``epoch`` (1-based), ``loss`` (mean training
    loss over the epoch's steps), ``n_steps`` and ``duration`` (seconds);
    figures returned by the loss function are averaged over the epoch under
    their own names.

    Parameters
    ----------
    records : list of dict, optional
        Records to start from (e.g. read back from a checkpoint).

    Examples
    --------
    >>> from skalign.engine import History
    >>> h = History()
    >>> h.append({"epoch": 1, "loss": 2.0})
    >>> h.append({"epoch": 2, "loss": 1.5})
    >>> h["loss"], h[-1]["epoch"], len(h)
    ([2.0, 1.5], 2, 2)
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self._records: list[dict[str, Any]] = [dict(r) for r in (records or [])]

    def append(self, record: dict[str, Any]) -> None:
        """Add one epoch's record."""
        self._records.append(dict(record))

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._records)

    def __getitem__(self, key: int | slice | str) -> Any:
        """A record (int), a list of records (slice) or a column (str).

        A column lists the value of the key in every record, ``nan`` where a
        record lacks it.
        """
        if isinstance(key, str):
            return [r.get(key, math.nan) for r in self._records]
        if isinstance(key, slice):
            return [dict(r) for r in self._records[key]]
        return self._records[key]

    def to_list(self) -> list[dict[str, Any]]:
        """The records as a list of dicts (a copy)."""
        return [dict(r) for r in self._records]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, History):
            return self._records == other._records
        return NotImplemented

    def __repr__(self) -> str:
        last = self._records[-1] if self._records else {}
        return f"History(n_epochs={len(self)}, last={last})"
