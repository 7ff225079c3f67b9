"""How many rows a bank has (``front_bank.py``, ``decoder_bank.py``), and which it keeps when
it gives rows back.

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


def bank_sizes(capacity: int) -> list[int]:
    """Every number of rows a bank of ``capacity`` can have: powers of two, and the capacity
    (it grows by doubling up to it, and shrinks to powers of two). Each is a shape of its
    calls, which a server warms before its first stream (``RowBatch.plan_rows``)."""
    sizes = [1 << i for i in range(capacity.bit_length()) if 1 << i < capacity]
    return sizes + [capacity]


def padded_rows(n: int, capacity: int) -> int:
    """The bank size that ``n`` rows of one call are padded to (another call shape is another
    attention graph to build on MLX CUDA, ~0.1 s: a few sizes, all warmed at start)."""
    return next(size for size in bank_sizes(capacity) if size >= n)


__all__ = ["bank_sizes", "padded_rows", "rows_to_keep"]
