"""Reading the verdict and the attack evidence out of a succeeded job's report.

The engine judges its own report against the forgetting policy (``sfd_core.policy``) and puts
the outcome in ``report["verdict"]``, the attacks in ``report["robustness"]``. Anything that is
not a recognised verdict reads as no verdict: nothing here ever upgrades a job to forgotten.
"""

from __future__ import annotations

from typing import Any

from sfd_core.policy import FORGOTTEN, NOT_FORGOTTEN

VERDICTS = (FORGOTTEN, NOT_FORGOTTEN)


def judgement(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{"verdict", "criteria", "failed", "policy"}`` if the report was judged, else None."""
    judged = (report or {}).get("verdict")
    if not isinstance(judged, dict) or judged.get("verdict") not in VERDICTS:
        return None
    return judged


def verdict_of(report: dict[str, Any] | None) -> str | None:
    """``forgotten`` or ``not_forgotten``; None for a report that holds no verdict."""
    judged = judgement(report)
    return None if judged is None else judged["verdict"]


def failed_criteria(report: dict[str, Any] | None) -> list[str]:
    judged = judgement(report)
    return [str(name) for name in judged.get("failed") or []] if judged else []


def robustness(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The attack probes' section (attacks, relearning, budget, seed), None if none ran."""
    section = (report or {}).get("robustness")
    return section if isinstance(section, dict) else None
