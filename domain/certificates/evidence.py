"""What a certificate says about forgetting: the verdict, the attack evidence, the headline.

The headline claims removal only for a ``forgotten`` verdict; any other job (judged not
forgotten, or never judged) is stated as NOT shown to be removed, with what failed.
"""

from __future__ import annotations

from typing import Any

from domain.jobs.verdict import judgement, robustness
from sfd_core.policy import FORGOTTEN

ATTACK_FIELDS = ("probe", "start", "asr", "reference_asr", "budget", "detail")
RELEARNING_FIELDS = ("steps", "rates", "teacher_rate", "steps_to_half", "reference_steps_to_half")


def certified_verdict(verdict: str | None, report: dict[str, Any]) -> dict[str, Any]:
    """The job's verdict with every criterion (value, limit, passed) and the policy used."""
    judged = judgement(report) or {}
    return {
        "verdict": verdict,
        "failed": list(judged.get("failed") or []),
        "criteria": [
            {key: c.get(key) for key in ("name", "value", "limit", "passed")}
            for c in judged.get("criteria") or []
        ],
        "policy": judged.get("policy"),
    }


def certified_robustness(report: dict[str, Any]) -> dict[str, Any] | None:
    """The attacks (success rate and reference), relearning summary, budget and seed; or why
    the model could not be probed."""
    section = robustness(report)
    if section is None:
        return None
    relearning = section.get("relearning")
    return {
        "budget": section.get("budget"),
        "seed": section.get("seed"),
        "not_probed": section.get("not_probed"),
        "judge": section.get("judge"),
        "reference": section.get("reference"),
        "attacks": [{k: a.get(k) for k in ATTACK_FIELDS} for a in section.get("attacks") or []],
        "strongest": section.get("strongest"),
        "relearning": {key: relearning.get(key) for key in RELEARNING_FIELDS}
        if isinstance(relearning, dict)
        else None,
    }


def _share(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "not measured"


def _attacks_phrase(attacks: dict[str, Any] | None) -> str:
    if not attacks:
        return "no attack probes were run"
    if not attacks["attacks"]:
        return f"it was not attacked ({attacks.get('not_probed') or 'no attack applied'})"
    strongest = attacks.get("strongest") or {}
    count = len(attacks["attacks"])
    return (
        f"under {count} attack{'s' if count > 1 else ''} ({attacks['budget']} budget) the "
        f"strongest, {strongest.get('probe')} from {strongest.get('start')}, succeeded "
        f"{_share(strongest.get('asr'))}"
    )


def statement(
    concepts: list[str],
    model: str,
    verdict: dict[str, Any],
    attacks: dict[str, Any] | None,
    forget_rate: Any,
) -> str:
    """The certificate's headline, worded from the verdict and nothing else."""
    several = len(concepts) > 1
    subject = f"Concept{'s' if several else ''} {', '.join(concepts)}"
    if verdict["verdict"] == FORGOTTEN:
        return (
            f"{subject} removed from {model}: forget rate {_share(forget_rate)}; "
            f"{_attacks_phrase(attacks)}."
        )
    if verdict["verdict"] is None:
        why = "no forgetting verdict was recorded"
    else:
        why = f"failed: {', '.join(verdict['failed']) or 'the forgetting policy'}"
    return f"{subject} {'were' if several else 'was'} NOT shown to be removed from {model}; {why}."
