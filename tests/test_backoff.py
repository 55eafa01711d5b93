"""Bounded exponential backoff with jitter."""

from __future__ import annotations

import random

import pytest

from thermalstream.capture.backoff import Backoff


def test_ceiling_grows_then_caps():
    b = Backoff(base=0.5, factor=2, cap=10)
    assert [b.ceiling(i) for i in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    assert b.ceiling(10_000) == 10  # no overflow


def test_jitter_stays_within_half_to_full_ceiling():
    b = Backoff(base=1, factor=2, cap=8, rng=random.Random(1))
    for i in range(20):
        d = b.next_delay()
        c = b.ceiling(i)
        assert c / 2 <= d <= c


def test_jitter_spreads_cameras_apart():
    delays = {round(Backoff(rng=random.Random(seed)).next_delay(), 6) for seed in range(20)}
    assert len(delays) > 15


def test_reset():
    b = Backoff(base=1, factor=3, cap=100, rng=random.Random(0))
    for _ in range(4):
        b.next_delay()
    b.reset()
    assert b.next_delay() <= 1


@pytest.mark.parametrize("kw", [{"base": 0}, {"factor": 0.5}, {"base": 5, "cap": 1}])
def test_invalid(kw):
    with pytest.raises(ValueError):
        Backoff(**kw)
