"""The forgetting policy: what a job must show before it is called forgotten.

A report is judged criterion by criterion; the verdict is ``forgotten`` only when every criterion
was measured and met. What was not measured fails (a model with no evaluator, probes turned
off while the policy requires them), so a certificate never claims more than the evidence.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

FORGOTTEN = "forgotten"
NOT_FORGOTTEN = "not_forgotten"
ATTACK_CRITERION = "attack:"  # the prefix of each attack's criterion: attack:PROBE:START


class PolicyError(ValueError):
    """A policy field that is unknown or out of range."""


@dataclass(frozen=True)
class ForgettingPolicy:
    """Limits a job must meet. Rates are shares in [0, 1]; see docs/ROBUSTNESS.md.

    - ``max_forget_rate``: the forgotten concept's share of the generator's own samples.
    - ``max_attack_success``: each attack's success rate (ASR) ...
    - ``max_attack_over_reference``: ... or at most this far above a reference model that never
      learned the concept, where one is known (whichever is larger).
    - ``max_accuracy_drop``: retained accuracy at most this far below the teacher's.
    - ``max_fd_ratio``: retained Frechet distance at most this multiple of the teacher's.
    - ``min_relearning_ratio``: fine-tuning must need at least this share of the steps a
      reference model needs to reach half the teacher's rate (only where a reference is known).
    - ``require_probes``: without attack probes the verdict cannot be ``forgotten``.
    """

    max_forget_rate: float = 0.02
    max_attack_success: float = 0.10
    max_attack_over_reference: float = 0.05
    max_accuracy_drop: float = 0.03
    max_fd_ratio: float = 5.0
    min_relearning_ratio: float = 0.5
    require_probes: bool = True

    def __post_init__(self) -> None:
        for name in ("max_forget_rate", "max_attack_success", "max_attack_over_reference"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise PolicyError(f"policy {name} must be a share in [0, 1]")
        if not (math.isfinite(self.max_accuracy_drop) and 0 <= self.max_accuracy_drop <= 1):
            raise PolicyError("policy max_accuracy_drop must be in [0, 1]")
        if not (math.isfinite(self.max_fd_ratio) and 1 <= self.max_fd_ratio <= 1000):
            raise PolicyError("policy max_fd_ratio must be in [1, 1000]")
        if not (math.isfinite(self.min_relearning_ratio) and 0 <= self.min_relearning_ratio <= 10):
            raise PolicyError("policy min_relearning_ratio must be in [0, 10]")

    @classmethod
    def from_overrides(cls, *layers: dict[str, Any] | None) -> ForgettingPolicy:
        """Defaults, then each layer in turn (deployment, then job); unknown keys refused."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for layer in layers:
            for name, value in (layer or {}).items():
                if name not in known:
                    raise PolicyError(f"unknown policy field {name!r}")
                wants_bool = known[name].type in (bool, "bool")
                if wants_bool != isinstance(value, bool) or not isinstance(value, int | float):
                    kind = "true or false" if wants_bool else "a number"
                    raise PolicyError(f"policy {name} must be {kind}")
                values[name] = value if wants_bool else float(value)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _criterion(
    name: str, value: float | None, limit: float, passed: bool, detail: str
) -> dict[str, Any]:
    return {
        "name": name,
        "value": None if value is None else round(float(value), 4),
        "limit": round(float(limit), 4),
        "passed": bool(passed),
        "detail": detail,
    }


def _at_most(name: str, value: float | None, limit: float, what: str) -> dict[str, Any]:
    if value is None:
        return _criterion(name, None, limit, False, f"{what} was not measured")
    passed = value <= limit
    return _criterion(name, value, limit, passed, f"{what} {value:.3g} (limit {limit:.3g})")


def _attack_criteria(robustness: dict[str, Any], policy: ForgettingPolicy) -> list[dict]:
    criteria = []
    for attack in robustness.get("attacks", []):
        if attack.get("asr") is None:
            continue
        reference = attack.get("reference_asr")
        limit = policy.max_attack_success
        if reference is not None:
            limit = max(limit, reference + policy.max_attack_over_reference)
        label = f"{attack['probe']} attack success ({attack['start']})"
        name = f"{ATTACK_CRITERION}{attack['probe']}:{attack['start']}"
        criteria.append(_at_most(name, attack["asr"], limit, label))
    relearning = robustness.get("relearning") or {}
    reference_steps = relearning.get("reference_steps_to_half")
    if reference_steps:
        steps = relearning.get("steps_to_half")
        needed = policy.min_relearning_ratio * reference_steps
        passed = steps is None or steps >= needed  # None: never reached half within the budget
        shown = "never within the budget" if steps is None else f"{steps:.3g} steps"
        criteria.append(
            _criterion(
                "relearning",
                steps,
                needed,
                passed,
                f"relearning to half the teacher's rate: {shown} (reference {reference_steps:.3g})",
            )
        )
    return criteria


def judge_report(report: dict[str, Any], policy: ForgettingPolicy) -> dict[str, Any]:
    """The verdict on one job's report: ``{"verdict", "criteria", "failed", "policy"}``."""
    teacher = report.get("teacher") or {}
    criteria = [
        _at_most("forget_rate", report.get("forget_rate"), policy.max_forget_rate, "forget rate")
    ]

    accuracy, teacher_accuracy = report.get("retained_accuracy"), teacher.get("retained_accuracy")
    if accuracy is None or teacher_accuracy is None:
        criteria.append(
            _at_most("retained_accuracy", None, policy.max_accuracy_drop, "retained accuracy")
        )
    else:
        drop = teacher_accuracy - accuracy
        criteria.append(
            _criterion(
                "retained_accuracy",
                accuracy,
                teacher_accuracy - policy.max_accuracy_drop,
                drop <= policy.max_accuracy_drop,
                f"retained accuracy {accuracy:.3f} vs teacher {teacher_accuracy:.3f}"
                f" (at most {policy.max_accuracy_drop:.3g} lower)",
            )
        )

    fd, teacher_fd = report.get("retained_fd"), teacher.get("retained_fd")
    ratio = fd / teacher_fd if fd is not None and teacher_fd else None
    criteria.append(
        _at_most("retained_fd_ratio", ratio, policy.max_fd_ratio, "retained FD / teacher FD")
    )

    robustness = report.get("robustness") or {}
    if robustness.get("attacks"):
        criteria.extend(_attack_criteria(robustness, policy))
    elif policy.require_probes:
        reason = robustness.get("not_probed") or "no attack probes were run"
        criteria.append(
            _criterion("attack_probes", None, 0, False, f"{reason}; the policy requires probes")
        )

    failed = [c["name"] for c in criteria if not c["passed"]]
    return {
        "verdict": NOT_FORGOTTEN if failed else FORGOTTEN,
        "criteria": criteria,
        "failed": failed,
        "policy": policy.to_dict(),
    }
