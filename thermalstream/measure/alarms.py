"""Alarm rules evaluated frame by frame: above, below, outside a band, rate of rise, difference of two ROIs.

>>> engine = AlarmEngine([Rule(1, "bearing hot", "above", roi=7, high=60.0, hysteresis=1.0, min_duration_s=2)])
>>> for change in engine.update(t, {7: stats, None: whole_frame}, ffc=is_ffc):
...     change.state  # "raised" (once) or "cleared" (once), with value and time

* **Hysteresis.** A rule is raised when its value crosses the threshold and cleared only once it is
  back by ``hysteresis`` (so noise at the threshold raises nothing twice).
* **Minimum duration.** The condition must hold for ``min_duration_s`` before the alarm is raised.
* **FFC.** While a flat-field correction is under way (``FFCState.IN_PROGRESS`` / ``IMMINENT``), on a
  whole-frame level jump, and for ``ffc_hold_s`` afterwards, nothing is raised or cleared, pending
  conditions restart, and rates forget the samples from before.
* **Rate of rise** is the least-squares slope over the last ``rate_window_s`` seconds, per minute.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from thermalstream.frame import FFCState, Frame
from thermalstream.measure.geometry import RoiStats

KINDS = ("above", "below", "outside", "rise", "difference")
STATISTICS = ("max", "min", "mean")
WHOLE_FRAME = None  # the key of the whole frame in the values given to update()


class RuleError(ValueError):
    """A rule that cannot be evaluated; the message names the field."""


@dataclass(frozen=True)
class Rule:
    """One alarm condition. ``roi`` None: the whole frame. Thresholds are in the camera's unit
    (``rise``: unit per minute; ``difference``: roi minus ``other``)."""

    id: Any
    name: str
    kind: str
    roi: Any = WHOLE_FRAME
    other: Any = None
    statistic: str = "max"
    low: float | None = None
    high: float | None = None
    hysteresis: float = 0.5
    min_duration_s: float = 0.0

    def check(self) -> Rule:
        if self.kind not in KINDS:
            raise RuleError(f"kind must be one of {', '.join(KINDS)}")
        if self.statistic not in STATISTICS:
            raise RuleError(f"statistic must be one of {', '.join(STATISTICS)}")
        needs = {"above": ("high",), "below": ("low",), "outside": ("low", "high"), "rise": ("high",),
                 "difference": ("high",)}[self.kind]
        for name in needs:
            v = getattr(self, name)
            if v is None or not math.isfinite(v):
                raise RuleError(f"a '{self.kind}' rule needs '{name}'")
        if self.kind == "outside" and self.low >= self.high:  # type: ignore[operator]
            raise RuleError("'low' must be below 'high'")
        if self.kind == "difference" and (self.roi is None or self.other is None or self.roi == self.other):
            raise RuleError("a 'difference' rule needs two different ROIs: 'roi_id' and 'other_roi_id'")
        if not (math.isfinite(self.hysteresis) and self.hysteresis >= 0):
            raise RuleError("'hysteresis' must be 0 or more")
        if not (math.isfinite(self.min_duration_s) and 0 <= self.min_duration_s <= 86400):
            raise RuleError("'min_duration_s' must be between 0 and 86400")
        return self


@dataclass
class Change:
    """A rule raised or cleared at ``t`` (epoch seconds) with the value that did it."""

    rule: Rule
    state: str  # "raised" | "cleared"
    t: float
    value: float
    peak: float


@dataclass
class _State:
    active: bool = False
    since: float | None = None  # when the condition started to hold (pending raise)
    peak: float = 0.0
    history: deque = field(default_factory=lambda: deque(maxlen=4096))


def _slope_per_min(history: deque) -> float | None:
    if len(history) < 3:
        return None
    a = np.asarray(history, dtype=np.float64)
    t = a[:, 0] - a[-1, 0]
    if t[-1] - t[0] <= 0:
        return None
    tc = t - t.mean()
    return float((tc * (a[:, 1] - a[:, 1].mean())).sum() / (tc * tc).sum() * 60.0)


class FFCGuard:
    """Whether a frame is part of a flat-field correction (or a level jump), with a hold after it."""

    def __init__(self, hold_s: float = 2.0, jump: float = 0.5) -> None:
        self.hold_s, self.jump = hold_s, jump
        self._until = -math.inf
        self._prev: np.ndarray | None = None
        self.events = 0

    def __call__(self, frame: Frame, values: np.ndarray) -> bool:
        t = frame.timestamp
        state = frame.radiometry.ffc_state if frame.radiometry is not None else FFCState.UNKNOWN
        step = max(1, min(values.shape[:2]) // 32)  # about 32 x 40 samples of the level
        grid = values[::step, ::step].astype(np.float32)
        jumped = (self._prev is not None and self._prev.shape == grid.shape
                  and abs(float(np.median(grid - self._prev))) > self.jump)
        self._prev = grid
        if state in (FFCState.IN_PROGRESS, FFCState.IMMINENT) or jumped:
            if t > self._until:
                self.events += 1
            self._until = t + self.hold_s
        return t <= self._until


class AlarmEngine:
    """The alarm state of one camera's rules. Not thread-safe: one caller (the camera's measure loop)."""

    def __init__(self, rules: list[Rule], *, rate_window_s: float = 10.0) -> None:
        self.rules = [r.check() for r in rules]
        self.rate_window_s = rate_window_s
        self._state: dict[Any, _State] = {r.id: _State() for r in self.rules}

    def active(self) -> dict[Any, bool]:
        return {rid: st.active for rid, st in self._state.items()}

    def restore(self, rule_id: Any, active: bool) -> None:
        """Carry the raised state across a rebuild (rules edited while an alarm is up)."""
        if rule_id in self._state:
            self._state[rule_id].active = active

    def value(self, rule: Rule, values: dict[Any, RoiStats], t: float) -> float | None:
        """The rule's current value (rise: per minute), or None when it cannot be computed yet."""
        st = values.get(rule.roi)
        if st is None:
            return None
        v = st.get(rule.statistic)
        if rule.kind == "difference":
            other = values.get(rule.other)
            return None if other is None else v - other.get(rule.statistic)
        if rule.kind == "rise":
            h = self._state[rule.id].history
            h.append((t, v))
            while h and t - h[0][0] > self.rate_window_s:
                h.popleft()
            if t - h[0][0] < self.rate_window_s / 2:
                return None
            return _slope_per_min(h)
        return v

    @staticmethod
    def _condition(rule: Rule, v: float, active: bool) -> bool:
        """Whether the alarm should be (or stay) up for value ``v``, with hysteresis when up."""
        hy = rule.hysteresis if active else 0.0
        if rule.kind == "below":
            return v < rule.low + hy  # type: ignore[operator]
        if rule.kind == "outside":
            return v > rule.high - hy or v < rule.low + hy  # type: ignore[operator]
        return v > rule.high - hy  # type: ignore[operator]

    def update(self, t: float, values: dict[Any, RoiStats], *, ffc: bool = False) -> list[Change]:
        """Evaluate every rule at time ``t``; returns the alarms raised or cleared now."""
        changes: list[Change] = []
        for rule in self.rules:
            st = self._state[rule.id]
            if ffc:
                st.since = None
                st.history.clear()
                continue
            v = self.value(rule, values, t)
            if v is None or not math.isfinite(v):
                continue
            holds = self._condition(rule, v, st.active)
            if st.active:
                st.peak = self._further(rule, st.peak, v)
                if not holds:
                    st.active, st.since = False, None
                    changes.append(Change(rule, "cleared", t, v, st.peak))
                continue
            if not holds:
                st.since = None
                continue
            if st.since is None:
                st.since, st.peak = t, v
            st.peak = self._further(rule, st.peak, v)
            if t - st.since >= rule.min_duration_s:
                st.active = True
                changes.append(Change(rule, "raised", t, v, st.peak))
        return changes

    @staticmethod
    def _further(rule: Rule, a: float, b: float) -> float:
        """The more alarming of two values."""
        if rule.kind == "below":
            return min(a, b)
        if rule.kind == "outside":
            mid = (rule.low + rule.high) / 2  # type: ignore[operator]
            return a if abs(a - mid) >= abs(b - mid) else b
        return max(a, b)
