"""Run every probe on one subject and assemble the report's ``robustness`` section and PNG."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from ..grids import image_rows
from ..progress import StopCheck
from .budget import ProbeBudget
from .conditioning import AttackOutcome, conditioning_attack, start_points
from .discrete import discrete_search
from .kits import AttackKit
from .relearning import relearning_attack
from .target import ProbeTarget

PICTURE_SAMPLES = 16


@dataclass
class PromptSearch:
    """What a text model's discrete search needs: an encoder, words and paraphrases."""

    encode: Callable[[Sequence[str]], Tensor]
    vocabulary: list[str]
    paraphrases: list[str] = field(default_factory=list)


@dataclass
class ProbeSubject:
    """A model under attack, with the concept it should have forgotten.

    ``teacher_rate`` is the judged rate of the concept in the original model's samples (the
    relearning attack's yardstick); ``prompt_search`` is set for text models only.
    """

    target: ProbeTarget
    kit: AttackKit
    forget_ids: list[int]
    surrogate_id: int | None
    teacher_rate: float
    relearnable: bool = True  # False for latent models (examples are pixels)
    prompt_search: PromptSearch | None = None
    concept: str = ""


@dataclass
class ProbeResult:
    section: dict[str, Any]
    image: Image.Image | None

    @classmethod
    def not_probed(cls, budget: ProbeBudget, seed: int, reason: str) -> ProbeResult:
        """A section with no attacks: the policy counts it as unmeasured."""
        section = {"budget": budget.name, "seed": seed, "attacks": [], "not_probed": reason}
        return cls(section, None)


def run_probes(
    subject: ProbeSubject,
    budget: ProbeBudget,
    seed: int,
    should_stop: StopCheck | None = None,
    on_attack: Callable[[str], None] | None = None,
) -> ProbeResult | None:
    """Conditioning attacks from each start, the discrete search (text) and relearning.

    Each attack gets its own seed derived from ``seed``, so a figure can be re-run alone.
    Returns None if ``should_stop`` ended it.
    """
    started = time.monotonic()
    target, kit = subject.target, subject.kit
    outcomes: list[AttackOutcome] = []
    starts = start_points(target, subject.forget_ids, subject.surrogate_id, seed)
    for i, name in enumerate(budget.starts):
        if name not in starts:
            continue
        if on_attack is not None:
            on_attack(f"conditioning attack from the {name} start")
        outcome = conditioning_attack(
            target, kit, name, starts[name], budget, seed + 100 * (i + 1), should_stop
        )
        if outcome is None:
            return None
        outcomes.append(outcome)
    if subject.prompt_search is not None:
        if on_attack is not None:
            on_attack("discrete prompt search")
        search = subject.prompt_search
        outcome = discrete_search(
            target,
            kit,
            search.encode,
            search.vocabulary,
            search.paraphrases,
            budget,
            seed + 1000,
            should_stop,
        )
        if outcome is None:
            return None
        outcomes.append(outcome)

    relearning, relearned = None, None
    if subject.relearnable:
        if on_attack is not None:
            on_attack("relearning attack")
        concept_cond = torch.tensor(subject.forget_ids[0])
        result = relearning_attack(
            target, kit, concept_cond, subject.teacher_rate, budget, seed + 2000, should_stop
        )
        if result is None:
            return None
        relearning, relearned = result

    attacks = [o.to_dict() for o in outcomes]
    strongest = max(outcomes, key=lambda o: o.asr)
    section = {
        "concept": subject.concept,
        "budget": budget.name,
        "budget_detail": budget.to_dict(),
        "seed": seed,
        "sampler": target.sampler.name,
        "judge": kit.describe(),
        "attacks": attacks,
        "relearning": relearning,
        "strongest": {"probe": strongest.probe, "start": strongest.start, "asr": strongest.asr},
        "seconds": round(time.monotonic() - started, 2),
    }
    return ProbeResult(section, _picture(outcomes, strongest, relearning, relearned))


def _picture(
    outcomes: list[AttackOutcome],
    strongest: AttackOutcome,
    relearning: dict[str, Any] | None,
    relearned: Tensor | None,
) -> Image.Image:
    """What each attack drew; the strongest first."""
    ordered = [strongest, *[o for o in outcomes if o is not strongest]]
    rows = [o.samples[:PICTURE_SAMPLES] for o in ordered]
    names = [f"{o.probe} {o.start[:28]}: {o.asr:.0%}" for o in ordered]
    if relearned is not None and relearning is not None:
        rows.append(relearned[:PICTURE_SAMPLES])
        names.append(f"relearned {relearning['steps'][-1]} steps: {relearning['rates'][-1]:.0%}")
    return image_rows(rows, names, label_width=230)
