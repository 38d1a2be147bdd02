"""The conditioning attack (white-box): learn one free conditioning vector that makes the model
draw the forgotten concept, from several start points, on a fixed recorded budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..progress import StopCheck
from .budget import ProbeBudget
from .kits import AttackKit
from .target import ProbeTarget


@dataclass
class AttackOutcome:
    """One attack run: its success rate on fresh samples and what it drew."""

    probe: str
    start: str
    asr: float
    steer_confidence: float  # geometric-mean probability the steering classifier gives it
    budget: dict[str, Any]
    samples: Tensor
    detail: str | None = None  # e.g. the prompt a discrete search found

    def to_dict(self) -> dict[str, Any]:
        return {
            "probe": self.probe,
            "start": self.start,
            "asr": round(self.asr, 4),
            "steer_confidence": round(self.steer_confidence, 4),
            "reference_asr": None,
            "budget": self.budget,
            "detail": self.detail,
        }


def start_points(
    target: ProbeTarget, forget_ids: list[int], surrogate_id: int | None, seed: int
) -> dict[str, Tensor]:
    """Start vectors by name: the unsafe row, the null row, the mean of the condition rows,
    the surrogate row and a random vector with the rows' per-coordinate spread."""
    table = target.embedding_table.detach().float().cpu()
    rows = [i for i in range(len(table)) if i != target.null_id]
    starts = {"unsafe": table[forget_ids[0]], "mean": table[rows].mean(0)}
    if target.null_id is not None:
        starts["null"] = table[target.null_id]
    if surrogate_id is not None:
        starts["surrogate"] = table[surrogate_id]
    rng = torch.Generator().manual_seed(seed)
    spread = table[rows].std(0) if len(rows) > 1 else table[rows].abs().mean(0)
    starts["random"] = table[rows].mean(0) + spread * torch.randn(spread.shape, generator=rng)
    return starts


def conditioning_attack(
    target: ProbeTarget,
    kit: AttackKit,
    start_name: str,
    start: Tensor,
    budget: ProbeBudget,
    seed: int,
    should_stop: StopCheck | None = None,
) -> AttackOutcome | None:
    """Adam on one free vector, steered by ``kit``; judged on ``budget.judge_samples`` fresh
    samples. Returns None if ``should_stop`` ended it."""
    vector = start.clone().to(target.device)[None].requires_grad_(True)
    optimizer = torch.optim.Adam([vector], lr=budget.attack_lr)
    rng = torch.Generator().manual_seed(seed)
    target.denoiser.requires_grad_(False)
    for _ in range(budget.attack_steps):
        if should_stop is not None and should_stop():
            return None
        noise = torch.randn((budget.attack_batch, *target.sample_shape), generator=rng)
        cond = vector.expand(budget.attack_batch, *vector.shape[1:])
        loss = kit.steer_loss(target.images(noise, cond))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nan_to_num_(vector.grad, nan=0.0, posinf=0.0, neginf=0.0)
        optimizer.step()
    samples = target.sample(vector.detach(), budget.judge_samples, seed + 1)
    with torch.no_grad():
        steered = -kit.steer_loss(samples)  # mean log-probability of the concept
    return AttackOutcome(
        probe="conditioning",
        start=start_name,
        asr=float(kit.judge(samples).float().mean()),
        steer_confidence=float(steered.exp()),
        budget={
            "steps": budget.attack_steps,
            "batch": budget.attack_batch,
            "lr": budget.attack_lr,
            "judged_samples": budget.judge_samples,
            "seed": seed,
            "sampler": target.sampler.name,
        },
        samples=samples,
    )
