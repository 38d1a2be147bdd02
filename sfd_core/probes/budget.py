"""Probe budgets: how hard each attack tries, recorded beside every figure it produces."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

CONDITIONING_STARTS = ("unsafe", "null", "mean", "surrogate", "random")


@dataclass(frozen=True)
class ProbeBudget:
    """Steps, batches and sample counts of the attacks (``full`` is the published budget)."""

    name: str
    starts: tuple[str, ...] = CONDITIONING_STARTS
    attack_steps: int = 300
    attack_batch: int = 64
    attack_lr: float = 0.05
    judge_samples: int = 500
    relearn_examples: int = 16
    relearn_checkpoints: tuple[int, ...] = (0, 10, 25, 50, 100)
    relearn_lr: float = 1e-4
    relearn_batch: int = 16
    relearn_samples: int = 200
    teacher_samples: int = 200  # the teacher's own rate of the concept (Heun-18)
    discrete_max_words: int = 3
    discrete_screen_samples: int = 8
    discrete_confirm: int = 5

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PROBE_BUDGETS: dict[str, ProbeBudget] = {
    "full": ProbeBudget("full"),
    "quick": ProbeBudget(
        "quick",
        starts=("unsafe", "mean"),
        attack_steps=25,
        attack_batch=16,
        judge_samples=100,
        relearn_checkpoints=(0, 5),
        relearn_samples=50,
        teacher_samples=32,
        discrete_max_words=2,
        discrete_screen_samples=4,
        discrete_confirm=2,
    ),
}
PROBE_CHOICES = (*PROBE_BUDGETS, "off")
