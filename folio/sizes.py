"""Byte counts in the unit that fits, for what people read (reports, the CLI)."""

from __future__ import annotations

_UNITS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB"))


def human_size(n: float | None) -> str:
    """20_480 -> "20.5 KB", 3_400_000 -> "3.4 MB", 512 -> "512 B"; None -> "?"."""
    if n is None:
        return "?"
    for size, unit in _UNITS:
        if abs(n) >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{int(n)} B"
