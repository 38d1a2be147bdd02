"""The request rate limit per API key (the ``limits`` library): counted in Redis when the
service is distributed, in the process otherwise."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse_many, storage, strategies

from domain.errors import TooManyRequests
from domain.settings import Settings

log = logging.getLogger(__name__)


class RateLimiter:
    """``SFD_RATE_LIMIT`` per key, in the store at ``SFD_RATE_LIMIT_STORAGE_URL``."""

    def __init__(self, limits: list[RateLimitItem], url: str) -> None:
        self.limits = limits
        self.store = storage.storage_from_string(url)
        self.strategy = strategies.SlidingWindowCounterRateLimiter(self.store)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter | None:
        if not settings.rate_limit.strip():
            return None
        return cls(parse_many(settings.rate_limit), settings.resolved_rate_limit_storage_url)

    def hit(self, key_id: str) -> None:
        """Count one request of ``key_id``; 429 with ``Retry-After`` when over a limit. An
        unreachable store lets the request through (logged): the limit protects the
        service, it must not take it down."""
        for item in self.limits:
            try:
                allowed = self.strategy.hit(item, "sfd-key", key_id)
                if allowed:
                    continue
                reset = self.strategy.get_window_stats(item, "sfd-key", key_id).reset_time
            except Exception:
                log.warning("rate limit store unreachable; request let through", exc_info=True)
                return
            retry = max(1, math.ceil(reset - time.time()))
            raise TooManyRequests(
                f"over the rate limit of {item} for this API key; retry after {retry} s",
                code="rate_limited",
                headers={"Retry-After": str(retry)},
            )
