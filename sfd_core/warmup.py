"""A warm start for the one-step generator: regress it onto the teacher's own samples.

The untrained generator (the teacher applied once to ``sigma_init * z``) draws blurry class
averages, and SiD's loss, being mode seeking, spreads them out slowly. DMD (Yin et al. 2024)
pairs noise with the teacher's ODE solution from that noise and regresses the generator onto
the pairs. Here the teacher makes the pairs at the start of a run (no data needed); a forget
condition is paired with its surrogate's sample, so the warm start already forgets and SFD's
loss takes over from a generator that draws the teacher's variety.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from .conditions import ForgetPlan
from .denoisers import Denoiser
from .sampling import heun_sample

PAIR_SAMPLER_STEPS = 18  # the teacher's Heun sampler, as in every report (35 NFE)
PAIR_BATCH = 256
PAIR_SEED_OFFSET = 7919  # the pairs' own stream, so the run's RNG is untouched by them

OneStep = Callable[[Denoiser, Tensor, Tensor], Tensor]
BetweenChunks = Callable[[int, int], bool]  # (pairs made, pairs asked) -> abandon?


@dataclass(frozen=True)
class TeacherPairs:
    """Noise ``z``, the condition the generator is asked for, and the teacher's sample from
    ``z`` (for a forget condition: the teacher's sample for its surrogate)."""

    noise: Tensor
    cond: Tensor
    target: Tensor

    def __len__(self) -> int:
        return len(self.noise)


@torch.no_grad()
def make_pairs(
    teacher: Denoiser,
    plan: ForgetPlan,
    count: int,
    sample_shape: tuple[int, ...],
    *,
    seed: int,
    device: torch.device,
    forget_share: float = 0.5,
    between_chunks: BetweenChunks | None = None,
) -> TeacherPairs | None:
    """``count`` pairs, ``forget_share`` of them for forgotten conditions, drawn from a
    stream of their own (the same ``seed`` gives the same pairs, so a resumed run rebuilds
    them instead of storing them).

    The teacher samples ``PAIR_BATCH`` pairs at a time; ``between_chunks`` is called between
    two batches (for progress and cancellation) and abandons the build, returning None, when
    it returns True.
    """
    rng = torch.Generator().manual_seed(seed + PAIR_SEED_OFFSET)
    n_forget = round(count * forget_share)
    retain = plan.sample_retain(count - n_forget, rng)
    unsafe, surrogate = plan.sample_forget(n_forget, rng)
    cond, asked = torch.cat([retain, unsafe]), torch.cat([retain, surrogate])
    noise = torch.randn((count, *sample_shape), generator=rng)
    targets: list[Tensor] = []
    for z, c in zip(noise.split(PAIR_BATCH), asked.split(PAIR_BATCH), strict=True):
        made = sum(len(t) for t in targets)
        if targets and between_chunks is not None and between_chunks(made, count):
            return None
        targets.append(
            heun_sample(
                teacher,
                c.to(device),
                sample_shape,
                steps=PAIR_SAMPLER_STEPS,
                noise=z.to(device),
                clamp=False,
            )
        )
    return TeacherPairs(noise.to(device), cond.to(device), torch.cat(targets))


class RegressionLoss:
    """``|G(sigma_init z; c) - x_teacher(z, c)|^2`` summed over pixels, one loss per sample."""

    def __init__(self, one_step: OneStep) -> None:
        self.one_step = one_step

    def __call__(self, generator: Denoiser, pairs: TeacherPairs, index: Tensor) -> Tensor:
        images = self.one_step(generator, pairs.noise[index], pairs.cond[index])
        return (images - pairs.target[index]).pow(2).flatten(1).sum(dim=1)
