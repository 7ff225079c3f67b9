"""How many rows a bank has (``front_bank.py``, ``decoder_bank.py``), and which it keeps when
it gives rows back.

A bank's call or step computes every row it has made, so after a peak of 64 streams, 8 would
cost 64 rows for good. Once at most a quarter of the rows are taken, the members move to the
first rows and the bank keeps twice their number (a power of two): a bank grows only when
full, so joins and shrinks do not alternate.
"""

from __future__ import annotations

import mlx.core as mx

WARM_SHARE = 4  # a warm-up's scratch buffers take at most this fraction of the device's memory


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


def warm_sizes(capacity: int, row_bytes: int, memory: int | None = None) -> list[int]:
    """The bank sizes a server warms before its first stream: one row, and those whose
    scratch buffers (``row_bytes`` a row) fit in a quarter of the device's ``memory`` (every
    size on an H200; on a 16 GB Mac the small ones: a server started with a large
    ``--batch-rows`` must not take that much memory before anyone connects). A larger size
    builds its shapes when the bank first grows to it (~0.1 s each on MLX CUDA)."""
    budget = (memory or device_memory()) // WARM_SHARE
    return [s for s in bank_sizes(capacity) if s == 1 or s * row_bytes <= budget]


def device_memory() -> int:
    """The device's memory in bytes (MLX CUDA's total, Metal's size; 8 GiB if unknown)."""
    info = mx.device_info()
    return int(info.get("total_memory") or info.get("memory_size") or 8 << 30)


def room_for(members: list, more: int, capacity: int) -> int | None:
    """The rows a bank needs for ``more`` members joining at once (a bank size), or None when
    it has room: one growth for a burst of joins, not one a doubling (each copies every row
    made so far: 64 streams starting together grew a bank six times)."""
    taken = sum(m is not None for m in members)
    want = min(capacity, taken + more)
    if want <= len(members):
        return None
    return padded_rows(want, capacity)


def padded_rows(n: int, capacity: int) -> int:
    """The bank size that ``n`` rows of one call are padded to (another call shape is another
    attention graph to build on MLX CUDA, ~0.1 s: a few sizes, all warmed at start)."""
    return next(size for size in bank_sizes(capacity) if size >= n)


__all__ = ["bank_sizes", "device_memory", "padded_rows", "room_for", "rows_to_keep",
           "warm_sizes"]  # fmt: skip
