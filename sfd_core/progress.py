"""Progress reporting: what a running job tells its caller between steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ProgressEvent:
    """One progress report. ``phase`` is ``warmstart`` (the teacher drawing the warm start's
    samples), ``train``, ``evaluate``, ``probe`` or ``save``."""

    phase: str
    step: int
    total: int
    elapsed_seconds: float
    eta_seconds: float | None = None
    losses: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[ProgressEvent], None]
StopCheck = Callable[[], bool]
