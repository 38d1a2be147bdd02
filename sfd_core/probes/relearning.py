"""The relearning attack: fine-tune a copy of the model on a handful of real examples of the
forgotten concept and watch how fast it comes back."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor

from ..denoisers import expand_sigma
from ..losses import LogNormalSigmas
from ..progress import StopCheck
from .budget import ProbeBudget
from .kits import AttackKit
from .target import ProbeTarget

SIGMA_DATA = 0.5


def steps_to_half(steps: list[int], rates: list[float], teacher_rate: float) -> float | None:
    """Fine-tuning steps until the concept's rate reaches half the teacher's (linearly
    interpolated between checkpoints); None if it never does within the budget."""
    half = teacher_rate / 2
    for i, (k, rate) in enumerate(zip(steps, rates, strict=True)):
        if rate >= half:
            if i == 0:
                return float(k)
            k0, r0 = steps[i - 1], rates[i - 1]
            return float(k0 + (k - k0) * (half - r0) / (rate - r0))
    return None


def _denoising_loss(target: ProbeTarget, model, images: Tensor, cond: Tensor, rng) -> Tensor:
    """EDM's weighted denoising loss; a one-step generator is trained at its own sigma_init."""
    n = len(images)
    if target.sampler.steps == 1:
        sigma = torch.full((n,), target.sampler.sigma_init)
    else:
        sigma = LogNormalSigmas(-1.2, 1.2)(n, rng)
    noise = torch.randn(images.shape, generator=rng)
    sigma, noise, images = (t.to(target.device) for t in (sigma, noise, images))
    s = expand_sigma(sigma, images)
    weight = (s**2 + SIGMA_DATA**2) / (s * SIGMA_DATA) ** 2
    denoised = model(images + s * noise, sigma, cond)
    return (weight * (denoised - images) ** 2).flatten(1).sum(1).mean()


def relearning_attack(
    target: ProbeTarget,
    kit: AttackKit,
    concept_cond: Tensor,
    teacher_rate: float,
    budget: ProbeBudget,
    seed: int,
    should_stop: StopCheck | None = None,
) -> tuple[dict[str, Any], Tensor] | None:
    """The concept's judged rate after each checkpoint in ``budget.relearn_checkpoints``
    of Adam fine-tuning on ``budget.relearn_examples`` real examples; None if stopped.

    Works on pixel models, whose examples are the model's own sample space.
    """
    examples = kit.examples(budget.relearn_examples, seed)
    model = copy.deepcopy(target.denoiser).requires_grad_(True).train()
    tuned = ProbeTarget(
        model,
        target.sample_shape,
        target.sampler,
        target.decode,
        target.null_id,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.relearn_lr)
    rng = torch.Generator().manual_seed(seed)
    rates, samples, done = [], None, 0
    for checkpoint in budget.relearn_checkpoints:
        while done < checkpoint:
            if should_stop is not None and should_stop():
                return None
            pick = torch.randint(len(examples), (budget.relearn_batch,), generator=rng)
            cond = concept_cond.to(target.device).repeat(budget.relearn_batch)
            loss = _denoising_loss(target, model, examples[pick], cond, rng)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
        model.eval()
        samples = tuned.sample(concept_cond, budget.relearn_samples, seed + 1)
        rates.append(round(float(kit.judge(samples).float().mean()), 4))
        model.train()
    steps = list(budget.relearn_checkpoints)
    half = steps_to_half(steps, rates, teacher_rate)
    section = {
        "steps": steps,
        "rates": rates,
        "teacher_rate": round(teacher_rate, 4),
        "steps_to_half": None if half is None else round(half, 2),
        "reference_steps_to_half": None,
        "budget": {
            "examples": budget.relearn_examples,
            "batch": budget.relearn_batch,
            "lr": budget.relearn_lr,
            "judged_samples": budget.relearn_samples,
            "seed": seed,
            "loss": "EDM denoising"
            + (f" at sigma_init {target.sampler.sigma_init}" if target.sampler.steps == 1 else ""),
        },
    }
    return section, samples
