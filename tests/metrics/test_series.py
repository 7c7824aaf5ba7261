"""Trend rule and LTTB downsampling (pure functions)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsagent.metrics.series import lttb, round_sig, trend_of


@pytest.mark.parametrize(
    ("values", "trend"),
    [
        ([10, 20, 30, 40, 50, 60], "rising"),
        ([60, 50, 40, 30, 20, 10], "falling"),
        ([50, 51, 49, 50, 52, 50], "flat"),
        ([0, 0, 0, 0], "flat"),
        ([1, 2], "insufficient_data"),
        ([], "insufficient_data"),
        ([-10, -10, -10, -20, -20, -20], "falling"),
    ],
)
def test_trend_rule(values, trend):
    assert trend_of(values)[0] == trend


def test_trend_is_thirds_not_endpoints():
    # one spike in the last point does not make a flat series "rising"
    values = [50.0] * 29 + [200.0]
    label, change = trend_of(values)
    assert label == "flat" and abs(change) < 0.10
    # a sustained rise over the last third does
    assert trend_of([50.0] * 20 + [80.0] * 10)[0] == "rising"


def test_trend_threshold_is_ten_percent():
    assert trend_of([100, 100, 100, 109, 109, 109])[0] == "flat"
    assert trend_of([100, 100, 100, 112, 112, 112])[0] == "rising"
    label, change = trend_of([100, 100, 100, 112, 112, 112])
    assert change == pytest.approx(0.12)


def points(values):
    return [(float(i * 60), float(v)) for i, v in enumerate(values)]


def test_lttb_keeps_first_last_and_spike():
    values = [10.0] * 500
    values[237] = 95.0  # one spike
    values[410] = -40.0  # one dip
    out = lttb(points(values), 30)
    assert len(out) == 30
    assert out[0] == (0.0, 10.0) and out[-1] == (499 * 60.0, 10.0)
    kept = [v for _, v in out]
    assert 95.0 in kept and -40.0 in kept
    # real points only, in order
    src = set(points(values))
    assert all(p in src for p in out)
    assert [t for t, _ in out] == sorted(t for t, _ in out)


def test_lttb_small_inputs_unchanged():
    assert lttb(points([1, 2, 3]), 30) == points([1, 2, 3])
    assert lttb([], 30) == []
    assert lttb(points(range(30)), 30) == points(range(30))


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=0, max_size=400), st.integers(3, 40))
def test_lttb_bounds(values, threshold):
    pts = points(values)
    out = lttb(pts, threshold)
    assert len(out) == min(len(pts), threshold)
    if pts:
        assert out[0] == pts[0] and out[-1] == pts[-1]
        assert set(out) <= set(pts)


def test_round_sig():
    assert round_sig(12.3456789) == 12.3457
    assert round_sig(123456789.0) == 123457000.0
    assert round_sig(math.nan) == 0.0
    assert round_sig(math.inf) == 0.0


def test_change_is_relative_to_the_early_level():
    # a tenfold rise is +900 %, not +90 % (what max(|early|, |late|) as the base would say)
    assert trend_of([10, 10, 10, 100, 100, 100]) == ("rising", pytest.approx(9.0))
    assert trend_of([100, 100, 100, 10, 10, 10]) == ("falling", pytest.approx(-0.9))
    label, change = trend_of([0, 0, 0, 5, 5, 5])
    assert label == "rising" and change is None  # from zero: no percentage
    assert trend_of([0, 0, 0, 0]) == ("flat", 0.0)
