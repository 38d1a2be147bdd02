"""What the probes attack: a generator (one-step, or a teacher's multi-step sampler) that turns
noise and a condition into images, differentiably."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from ..denoisers import Denoiser
from ..sampling import heun_solve
from ..trainer import one_step_generate


@dataclass(frozen=True)
class Sampler:
    """``one-step`` at ``sigma_init`` (SFD generators) or deterministic ``heun-N`` (teachers)."""

    steps: int = 1
    sigma_init: float = 2.5

    @property
    def name(self) -> str:
        return "one-step" if self.steps == 1 else f"heun-{self.steps}"

    def __call__(self, denoiser: Denoiser, noise: Tensor, cond: Tensor) -> Tensor:
        if self.steps == 1:
            return one_step_generate(denoiser, noise, cond, self.sigma_init)
        return heun_solve(
            denoiser, cond, tuple(noise.shape[1:]), steps=self.steps, noise=noise, clamp=False
        )


@dataclass
class ProbeTarget:
    """A model under attack. ``cond`` is class ids, prompt ids or free embedding vectors."""

    denoiser: Denoiser
    sample_shape: tuple[int, ...]
    sampler: Sampler
    decode: Callable[[Tensor], Tensor]  # samples -> images in [-1, 1]
    null_id: int | None

    @property
    def embedding_table(self) -> Tensor:
        """One row per condition id (class embeddings or prompt embeddings)."""
        return self.denoiser.condition_table()

    @property
    def device(self) -> torch.device:
        return next(self.denoiser.parameters()).device

    def images(self, noise: Tensor, cond: Tensor) -> Tensor:
        """Images in [-1, 1]; differentiable in ``cond`` and the weights."""
        samples = self.sampler(self.denoiser, noise.to(self.device), cond.to(self.device))
        return self.decode(samples).clamp(-1, 1)

    @torch.no_grad()
    def sample(self, cond: Tensor, n: int, seed: int, batch: int = 250) -> Tensor:
        """``n`` images for one condition (an id or a free vector) from fixed-seed noise."""
        noise = torch.randn((n, *self.sample_shape), generator=torch.Generator().manual_seed(seed))
        chunks = []
        for z in noise.split(batch):
            c = cond.expand(len(z), *cond.shape[1:]) if cond.ndim else cond.repeat(len(z))
            chunks.append(self.images(z, c).cpu())
        return torch.cat(chunks)
