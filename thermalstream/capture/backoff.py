"""Bounded exponential backoff with jitter for reconnecting cameras."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays ``base * factor**n`` capped at ``cap``, with "equal jitter": each delay is
    uniformly drawn from [d/2, d], so many cameras that failed together do not retry in lockstep.
    ``reset()`` after a success."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.factor < 1 or self.cap < self.base:
            raise ValueError("backoff needs base > 0, factor >= 1, cap >= base")

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay for ``attempt`` (0-based)."""
        # Compare exponents rather than computing factor**attempt, which overflows for large attempts.
        d = self.base
        for _ in range(attempt):
            d *= self.factor
            if d >= self.cap:
                return self.cap
        return min(d, self.cap)

    def next_delay(self) -> float:
        d = self.ceiling(self.attempt)
        self.attempt += 1
        return self.rng.uniform(d / 2, d)

    def reset(self) -> None:
        self.attempt = 0
