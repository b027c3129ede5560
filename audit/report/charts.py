"""Horizontal bar charts as plain geometry, drawn by the templates as inline SVG."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LABEL_WIDTH = 150
BAR_AREA = 260
VALUE_WIDTH = 180
ROW_HEIGHT = 26
BAR_HEIGHT = 18


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    text: str  # the value as shown
    kind: str  # CSS class of the bar
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    label_width: int
    width: int
    height: int
    bar_height: int = BAR_HEIGHT


def bar_chart(title: str, items: Sequence[tuple[str, int, str, str]]) -> BarChart:
    """Bars for (label, value, text, kind), scaled to the largest value."""
    top = max((value for _, value, _, _ in items), default=0)
    bars = tuple(
        Bar(label, value, text, kind, i * ROW_HEIGHT,
            round(BAR_AREA * value / top, 1) if top else 0.0)
        for i, (label, value, text, kind) in enumerate(items))
    return BarChart(title, bars, LABEL_WIDTH, LABEL_WIDTH + BAR_AREA + VALUE_WIDTH,
                    max(len(items), 1) * ROW_HEIGHT)
