"""Counts with percentages to one decimal, the way WSIS reports print them."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel


class Row(BaseModel):
    label: str
    count: int
    percent: str


class Breakdown(BaseModel):
    """A total and its rows, largest first (ties by label)."""

    total: int
    rows: list[Row]


def breakdown(counts: Iterable[tuple[str, int]]) -> Breakdown:
    """Percentages rounded half up to one decimal: 56 of 348 gives "16.1"."""
    items = sorted(((label, n) for label, n in counts if n), key=lambda x: (-x[1], x[0]))
    total = sum(n for _, n in items)
    rows = [
        Row(label=label, count=n, percent=f"{_round_half_up(n * 1000, total) / 10:.1f}")
        for label, n in items
    ]
    return Breakdown(total=total, rows=rows)


def _round_half_up(numerator: int, denominator: int) -> int:
    """round(numerator / denominator) with halves going up, in exact integer arithmetic."""
    return (2 * numerator + denominator) // (2 * denominator)
