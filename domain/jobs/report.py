"""Reading a succeeded job's report: the headline metrics, unlearned against the teacher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# (key, label, what a good unlearned value looks like)
HEADLINE_METRICS = (
    ("forget_rate", "Forget rate (unsafe class still recognised)", "lower"),
    ("surrogate_rate", "Surrogate rate (recognised as the surrogate)", "higher"),
    ("retained_accuracy", "Retained accuracy (other classes)", "higher"),
    ("retained_fd", "Retained Fréchet distance", "lower"),
    ("diversity", "Diversity (vs real data)", "closer to 1"),
)

# Headline metrics that are not shares of samples (the others read as percentages).
NOT_SHARES = frozenset({"retained_fd", "diversity"})


@dataclass(frozen=True)
class MetricRow:
    key: str
    label: str
    goal: str
    teacher: float | None
    unlearned: float | None

    @property
    def is_share(self) -> bool:
        return self.key not in NOT_SHARES

    @property
    def change(self) -> float | None:
        if self.teacher is None or self.unlearned is None:
            return None
        return self.unlearned - self.teacher


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def metric_rows(report: dict[str, Any] | None) -> list[MetricRow]:
    """The headline metrics the report holds, each with the teacher's value beside it."""
    if not report:
        return []
    teacher = report.get("teacher") or {}
    rows = [
        MetricRow(key, label, goal, _number(teacher.get(key)), _number(report.get(key)))
        for key, label, goal in HEADLINE_METRICS
    ]
    return [row for row in rows if row.teacher is not None or row.unlearned is not None]


def per_class_rows(report: dict[str, Any] | None) -> list[tuple[str, float | None, float | None]]:
    """``(class, teacher accuracy, unlearned accuracy)`` for every evaluated class."""
    if not report:
        return []
    unlearned = report.get("per_class_accuracy") or {}
    teacher = (report.get("teacher") or {}).get("per_class_accuracy") or {}
    classes = sorted({*unlearned, *teacher}, key=lambda c: (len(str(c)), str(c)))
    return [(str(c), _number(teacher.get(c)), _number(unlearned.get(c))) for c in classes]


def headline(report: dict[str, Any] | None) -> dict[str, float | None]:
    """The metrics a jobs table shows: forget rate, retained accuracy, retained FD."""
    report = report or {}
    return {
        key: _number(report.get(key)) for key in ("forget_rate", "retained_accuracy", "retained_fd")
    }


def certified_metrics(report: dict[str, Any]) -> dict[str, Any]:
    """The metrics a certificate states: unlearned and teacher, per class included."""
    keys = [key for key, _, _ in HEADLINE_METRICS] + ["per_class_accuracy"]
    teacher = report.get("teacher") or {}
    return {
        "unlearned": {key: report.get(key) for key in keys if key in report},
        "teacher": {key: teacher.get(key) for key in keys if key in teacher},
        "eval_samples_per_class": report.get("eval_samples_per_class"),
        "eval_seed": report.get("eval_seed"),
    }
