"""Pure functions over a time series: summary, trend and downsampling. No AWS here.

Points are ``(epoch_seconds, value)`` pairs in chronological order.

Trend rule (documented, deliberately simple)
    With fewer than :data:`MIN_POINTS_FOR_TREND` points the trend is ``"insufficient_data"``.
    Otherwise compare the median of the *last third* of the points with the median of the *first
    third*: ``change = (late - early) / |early|`` (the ordinary percent change: 10 -> 100 is +900 %).
    ``|change| < 10 %`` is ``"flat"``, a positive change ``"rising"``, a negative one ``"falling"``.
    From an early level of 0 there is no percentage (``None``): flat when late is 0 too, else rising
    or falling. Medians of thirds (not the first and last point, not means) keep a single spike at
    either end from deciding the trend.

Downsampling
    Largest-Triangle-Three-Buckets (Steinarsson 2013): keeps the first and last point and, from each
    of ``n - 2`` equal buckets in between, the real datapoint that forms the largest triangle with the
    previously kept point and the next bucket's average. Unlike bucket-averaging it keeps spikes and
    dips (the points an incident is about) and only returns values that really occurred.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median
from typing import Literal

Point = tuple[float, float]
Trend = Literal["rising", "falling", "flat", "insufficient_data"]

MIN_POINTS_FOR_TREND = 3
FLAT_THRESHOLD = 0.10


def round_sig(value: float, digits: int = 6) -> float:
    """Keep answers short: 6 significant digits is plenty for a model reading a metric."""
    if value != value or value in (float("inf"), float("-inf")):  # NaN / inf never reach JSON
        return 0.0
    return float(f"{value:.{digits}g}")


def trend_of(values: Sequence[float]) -> tuple[Trend, float | None]:
    """The trend label and the relative change (``0.25`` = +25 %) per the module's rule."""
    n = len(values)
    if n < MIN_POINTS_FOR_TREND:
        return "insufficient_data", None
    third = max(1, n // 3)
    early = median(values[:third])
    late = median(values[-third:])
    if early == 0:
        if late == 0:
            return "flat", 0.0
        return ("rising" if late > 0 else "falling"), None
    change = (late - early) / abs(early)
    if abs(change) < FLAT_THRESHOLD:
        return "flat", change
    return ("rising" if change > 0 else "falling"), change


def lttb(points: Sequence[Point], threshold: int) -> list[Point]:
    """Downsample to at most ``threshold`` points with Largest-Triangle-Three-Buckets."""
    n = len(points)
    if threshold >= n or n <= 2:
        return list(points)
    if threshold <= 2:
        return [points[0], points[-1]][:threshold] if threshold > 0 else []
    sampled: list[Point] = [points[0]]
    every = (n - 2) / (threshold - 2)
    a = 0  # index of the last kept point
    for i in range(threshold - 2):
        # average of the next bucket (the third vertex of the triangle)
        nxt_start = int((i + 1) * every) + 1
        nxt_end = min(int((i + 2) * every) + 1, n)
        if nxt_start >= n:
            nxt_start, nxt_end = n - 1, n
        span = nxt_end - nxt_start
        avg_x = sum(p[0] for p in points[nxt_start:nxt_end]) / span
        avg_y = sum(p[1] for p in points[nxt_start:nxt_end]) / span
        # this bucket
        start = int(i * every) + 1
        end = int((i + 1) * every) + 1
        ax, ay = points[a]
        best, best_area = start, -1.0
        for j in range(start, min(end, n - 1)):
            x, y = points[j]
            area = abs((ax - avg_x) * (y - ay) - (ax - x) * (avg_y - ay))
            if area > best_area:
                best, best_area = j, area
        sampled.append(points[best])
        a = best
    sampled.append(points[-1])
    return sampled
