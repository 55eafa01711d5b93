"""Event-recording modes: a camera's ``settings["record"]`` (manual/events, pre_s, post_s), validated."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MODES = ("manual", "events")
MAX_PAD_S = 60.0
DEFAULT_PRE_S = 5.0
DEFAULT_POST_S = 5.0


class RecordModeError(ValueError):
    """Invalid recording-mode settings (HTTP 400)."""


@dataclass(frozen=True)
class RecordMode:
    mode: str = "manual"
    pre_s: float = DEFAULT_PRE_S
    post_s: float = DEFAULT_POST_S

    @property
    def segment_seconds(self) -> float:
        """Buffer segment length: at most 2 s and at most pre_s (but at least 1 s)."""
        return min(2.0, max(1.0, self.pre_s))

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "pre_s": self.pre_s, "post_s": self.post_s}

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> RecordMode:
        """The mode stored in a camera's settings; invalid stored values fall back to the defaults."""
        raw = (settings or {}).get("record")
        if not isinstance(raw, dict):
            return cls()
        try:
            return validate_mode(raw, cls(), partial_ok=True)
        except RecordModeError as exc:
            log.warning("ignoring invalid record settings %r: %s", raw, exc)
            return cls()


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecordModeError(f"{name} must be a number of seconds from 0 to {MAX_PAD_S:g}")
    if not 0 <= value <= MAX_PAD_S:
        raise RecordModeError(f"{name} must be between 0 and {MAX_PAD_S:g} seconds, not {value}")
    return float(value)


def validate_mode(changes: dict[str, Any], base: RecordMode | None = None, *, partial_ok: bool = True) -> RecordMode:
    """``base`` with ``changes`` (any of mode, pre_s, post_s) applied; RecordModeError when invalid."""
    if not isinstance(changes, dict):
        raise RecordModeError("record settings must be an object")
    fields = {"mode", "pre_s", "post_s"}
    unknown = set(changes) - fields
    if unknown:
        raise RecordModeError(f"unknown field(s) {sorted(unknown)}; give one or more of {sorted(fields)}")
    if not changes:
        raise RecordModeError(f"give one or more of {sorted(fields)}")
    if not partial_ok and set(changes) != fields:
        raise RecordModeError(f"give all of {sorted(fields)}")
    base = base or RecordMode()
    mode = changes.get("mode", base.mode)
    if mode not in MODES:
        raise RecordModeError(f"mode must be one of {list(MODES)}, not {mode!r}")
    pre = _seconds(changes["pre_s"], "pre_s") if "pre_s" in changes else base.pre_s
    post = _seconds(changes["post_s"], "post_s") if "post_s" in changes else base.post_s
    return RecordMode(mode, pre, post)


__all__ = [
    "DEFAULT_POST_S", "DEFAULT_PRE_S", "MAX_PAD_S", "MODES", "RecordMode", "RecordModeError", "validate_mode",
]
