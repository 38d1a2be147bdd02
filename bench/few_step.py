"""A few-step generator, for the sweep only: does a second or third network evaluation buy
fidelity (issue 11)? ``bench/sweep.py`` runs the settings whose name ends in ``_steps<K>``
with these classes; the engine's generator stays one step.

Sampling (DMD2's multi-step generator, Yin et al. 2024): ``x = G(sigma_1 z; sigma_1)``, then
for each later level ``x = G(x + sigma_k eps_k; sigma_k)``. Training (DMD2's backward
simulation): each generator batch picks a step ``k`` at random, runs the chain to ``k`` without
gradients and trains ``G`` on its output at step ``k``, so SFD's loss shapes every step's output
distribution. The warm start's regression stays on the first step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from sfd_core.denoisers import Denoiser
from sfd_core.trainer import SFDTrainer, one_step_generate


def renoise_and_denoise(
    generator: Denoiser, x: Tensor, cond: Tensor, sigma: float, noise: Tensor
) -> Tensor:
    """One later step of the chain: add noise at ``sigma`` to ``x`` and denoise it."""
    level = torch.full((x.shape[0],), sigma, device=x.device, dtype=x.dtype)
    return generator(x + sigma * noise, level, cond)


def later_steps(
    generator: Denoiser,
    images: Tensor,
    cond: Tensor,
    levels: Sequence[float],
    randn: Callable[[torch.Size], Tensor],
) -> Tensor:
    """The chain's steps at ``levels`` after the first, each with fresh noise from ``randn``."""
    for level in levels:
        images = renoise_and_denoise(generator, images, cond, level, randn(images.shape))
    return images


class ChainGenerator(nn.Module):
    """A generator sampled in ``len(sigmas)`` steps, called like a one-step generator
    (``one_step_generate(chain, z, c, sigmas[0])``) so the job report scores it unchanged.
    The later steps' noise comes from a fixed seed: the same ``z`` gives the same images."""

    def __init__(self, generator: Denoiser, sigmas: Sequence[float], seed: int = 0) -> None:
        super().__init__()
        self.generator, self.sigmas, self.seed = generator, list(sigmas), seed

    def forward(self, x: Tensor, sigma: Tensor, cond: Tensor) -> Tensor:
        rng = torch.Generator().manual_seed(self.seed)

        def randn(shape: torch.Size) -> Tensor:
            return torch.randn(shape, generator=rng).to(x.device)

        return later_steps(
            self.generator, self.generator(x, sigma, cond), cond, self.sigmas[1:], randn
        )


class FewStepTrainer(SFDTrainer):
    """SFD with the generator's samples drawn by the chain (backward simulation)."""

    def __init__(self, *args, sigmas: Sequence[float], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if sigmas[0] != self.config.sigma_init:
            raise ValueError("the chain starts at sigma_init")
        self.sigmas = list(sigmas)

    def _generate(self, generator: Denoiser, cond: Tensor) -> Tensor:
        n, last = len(cond), int(torch.randint(len(self.sigmas), (1,), generator=self.rng))
        if last == 0:  # with gradients where the caller wants them
            return one_step_generate(generator, self._randn(n), cond, self.sigmas[0])
        with torch.no_grad():
            images = one_step_generate(generator, self._randn(n), cond, self.sigmas[0])
            images = later_steps(
                generator, images, cond, self.sigmas[1:last], lambda _: self._randn(n)
            )
        return renoise_and_denoise(generator, images, cond, self.sigmas[last], self._randn(n))
