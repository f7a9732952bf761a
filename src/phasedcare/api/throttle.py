"""Failed authentications per client address, counted in a moving window (``limits``).

Only failures count: a client whose valid key works is never slowed. A client that fails
``failures`` times within ``window_seconds`` gets 429 for every authentication, valid or not,
until its oldest failure leaves the window, so guessing stays at ``failures`` per window.
The counts live in this process's memory: a restart forgets them, and several API processes
count apart.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

__all__ = ["DEFAULT_FAILURES", "DEFAULT_WINDOW_SECONDS", "FailureThrottle"]

DEFAULT_FAILURES = 20
"""Failed authentications a client address may make in one window."""

DEFAULT_WINDOW_SECONDS = 60
"""The length of the moving window, in seconds."""


class FailureThrottle:
    """Count failed authentications per client address and say when one must wait."""

    def __init__(
        self, *, failures: int = DEFAULT_FAILURES, window_seconds: int = DEFAULT_WINDOW_SECONDS
    ) -> None:
        self._limit = RateLimitItemPerSecond(failures, window_seconds)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until ``client`` may authenticate again; None when it may now."""
        if self._limiter.test(self._limit, client):
            return None
        reset, _ = self._limiter.get_window_stats(self._limit, client)
        return max(1, math.ceil(reset - time.time()))

    def failed(self, client: str) -> None:
        """Count one failed authentication of ``client``."""
        self._limiter.hit(self._limit, client)
