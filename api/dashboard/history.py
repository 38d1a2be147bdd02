"""A job's events as people read them: a timeline, and the series its charts draw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from api.dashboard.charts import Series
from domain.jobs import service as jobs
from domain.jobs.models import JobEvent

PAGE = 1000
MAX_EVENTS = 20_000
# Counts the trainer reports beside its losses: shown as numbers, never drawn as a loss curve.
COUNTERS = frozenset({"nan_dropped"})


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # state | phase | log | metrics
    level: str  # info | warning | error
    text: str


def load_events(session: Session, tenant: str, job_id: str) -> list[JobEvent]:
    """The job's whole history, oldest first (bounded)."""
    events: list[JobEvent] = []
    cursor: int | None = None
    while len(events) < MAX_EVENTS:
        page = jobs.list_events(session, tenant, job_id, after=cursor, limit=PAGE)
        events.extend(page.data)
        if not page.has_more or not page.data:
            break
        cursor = page.data[-1].seq
    return events


def timeline(events: list[JobEvent]) -> list[Entry]:
    """State changes, phase starts, log lines and metric reports; routine progress left out."""
    entries: list[Entry] = []
    phase: str | None = None
    for event in events:
        data = event.data
        if event.type == "state":
            source = data.get("from") or "submitted"
            extra = f" ({data['reason']})" if data.get("reason") else ""
            entries.append(
                Entry(event.created_at, "state", "info", f"{source} → {data['to']}{extra}")
            )
        elif event.type == "progress" and data.get("phase") != phase:
            phase = data.get("phase")
            entries.append(Entry(event.created_at, "phase", "info", f"phase {phase} started"))
        elif event.type == "log":
            level = data.get("level", "info")
            entries.append(Entry(event.created_at, "log", level, str(data.get("message", ""))))
        elif event.type == "metrics":
            entries.append(
                Entry(event.created_at, "metrics", "info", f"metrics at step {data.get('step')}")
            )
    return entries


def _numbers(data: dict) -> dict[str, float]:
    return {
        name: float(value)
        for name, value in data.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and name != "step"
    }


def loss_series(events: list[JobEvent]) -> list[Series]:
    """Each training loss against the step (counters left out: :func:`counters`)."""
    curves: dict[str, list[tuple[float, float]]] = {}
    for event in events:
        if event.type == "progress" and event.data.get("losses"):
            for name, value in _numbers(event.data["losses"]).items():
                if name not in COUNTERS:
                    curves.setdefault(name, []).append((float(event.data["step"]), value))
    return [Series(name, points) for name, points in curves.items()]


def counters(events: list[JobEvent]) -> dict[str, tuple[int, int]]:
    """Each counter's sum over the reported steps, and how many steps reported it."""
    found: dict[str, tuple[int, int]] = {}
    for event in events:
        if event.type == "progress" and event.data.get("losses"):
            for name, value in _numbers(event.data["losses"]).items():
                if name in COUNTERS:
                    total, steps = found.get(name, (0, 0))
                    found[name] = (total + int(value), steps + 1)
    return found


def metric_series(events: list[JobEvent]) -> list[Series]:
    """Each metric reported during training against the step."""
    curves: dict[str, list[tuple[float, float]]] = {}
    for event in events:
        if event.type == "metrics":
            for name, value in _numbers(event.data).items():
                curves.setdefault(name, []).append((float(event.data.get("step", 0)), value))
    return [Series(name, points) for name, points in curves.items()]


def progress_series(events: list[JobEvent]) -> list[Series]:
    """Training steps done against elapsed seconds."""
    points = [
        (float(e.data.get("elapsed_seconds") or 0.0), float(e.data["step"]))
        for e in events
        if e.type == "progress" and e.data.get("phase") == "train"
    ]
    return [Series("steps", points)] if points else []
