"""Which rows a bank keeps when it gives rows back (``front_bank.py``, ``decoder_bank.py``).

A bank's call or step computes every row it has made, so after a peak of 64 streams, 8 would
cost 64 rows for good. Once at most a quarter of the rows are taken, the members move to the
first rows and the bank keeps twice their number (a power of two): a bank grows only when
full, so joins and shrinks do not alternate.
"""

from __future__ import annotations


def rows_to_keep(members: list) -> list[int] | None:
    """The rows to keep, in their new order (the members', then free ones), or None when the
    bank stays as it is. ``members``: each row's member, None where the row is free; with no
    member left one row is kept."""
    taken = [r for r, m in enumerate(members) if m is not None]
    if len(members) <= 1 or len(taken) > len(members) // 4:
        return None
    size = 1 << (2 * len(taken) - 1).bit_length() if taken else 1
    free = [r for r, m in enumerate(members) if m is None]
    return taken + free[: size - len(taken)]


__all__ = ["rows_to_keep"]
