"""Charts as server-rendered SVG (pygal), readable without JavaScript: no script is linked
or embedded, and every chart's page shows the same figures as a table for screen readers."""

from __future__ import annotations

import re
from collections.abc import Callable

import pygal
from pygal.style import Style

from reports.tables import Breakdown

_STYLE = Style(
    background="white", plot_background="white", foreground="#1b1b1b",
    foreground_strong="#1b1b1b", foreground_subtle="#5c5c5c", colors=("#005a9c",),
    font_family="sans-serif",
)  # fmt: skip


_SCRIPT = re.compile(rb"<script\b.*?</script>", re.S)


def bars(title: str, data: dict[str, int]) -> bytes:
    """A bar chart of ``data`` (label -> count), as a standalone SVG document."""
    chart = pygal.Bar(
        style=_STYLE, js=[], show_legend=False, width=720, height=320,
        x_label_rotation=30, print_values=True, title=title,
    )  # fmt: skip
    chart.x_labels = list(data)
    chart.add(title, list(data.values()))
    # pygal always embeds its configuration for its (unused) tooltips script: dropped, the
    # picture needs no script at all.
    return _SCRIPT.sub(b"", chart.render())


def shares(title: str, found: Breakdown, labels: dict[str, str] | None = None) -> bytes:
    """A horizontal bar per row of ``found``, largest on top, each printed as its count and
    percentage ("145 (41.7 %)"), as a standalone SVG document. ``labels`` names the rows in
    the reader's language (a stakeholder type, a country)."""
    names = labels or {}
    rows = list(reversed(found.rows))  # pygal draws the first value at the bottom
    chart = pygal.HorizontalBar(
        style=_STYLE, js=[], show_legend=False, width=720,
        height=max(160, 60 + 28 * len(rows)), print_values=True, title=title,
    )  # fmt: skip
    chart.x_labels = [names.get(r.label, r.label) for r in rows]
    chart.add(
        title or "-",
        [{"value": r.count, "formatter": _with_percent(r.percent)} for r in rows],
    )
    return _SCRIPT.sub(b"", chart.render())


def _with_percent(percent: str) -> Callable[[float], str]:
    return lambda value: f"{int(value)} ({percent} %)"
