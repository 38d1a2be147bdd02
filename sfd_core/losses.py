"""The SiD/SFD losses, each a small callable class (after NVlabs' EDM).

Both return one loss per sample (summed over pixels); samples with NaNs are reported in a mask
so the trainer can drop them from the batch mean.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .denoisers import Denoiser, expand_sigma


def _per_sample_sum(x: Tensor) -> Tensor:
    return x.flatten(1).sum(dim=1)


def finite_samples(*tensors: Tensor) -> Tensor:
    """Mask of the samples that are finite in every tensor."""
    mask = torch.ones(tensors[0].shape[0], dtype=torch.bool, device=tensors[0].device)
    for t in tensors:
        mask &= torch.isfinite(t.flatten(1)).all(dim=1)
    return mask


class KarrasSigmas:
    """SiD's generator-step noise levels, ``u ~ U[0, tmax/1000]`` (the largest are never drawn):
    ``(smax^(1/rho) + (1-u)(smin^(1/rho) - smax^(1/rho)))^rho``."""

    def __init__(self, sigma_min: float, sigma_max: float, rho: float, tmax: int) -> None:
        self.sigma_min, self.sigma_max, self.rho, self.tmax = sigma_min, sigma_max, rho, tmax

    def __call__(self, n: int, generator: torch.Generator) -> Tensor:
        u = torch.rand(n, generator=generator) * (self.tmax / 1000)
        lo, hi = self.sigma_min ** (1 / self.rho), self.sigma_max ** (1 / self.rho)
        return (hi + (1 - u) * (lo - hi)) ** self.rho


class LogNormalSigmas:
    """EDM's training noise levels: ``ln sigma ~ N(p_mean, p_std^2)``."""

    def __init__(self, p_mean: float, p_std: float) -> None:
        self.p_mean, self.p_std = p_mean, p_std

    def __call__(self, n: int, generator: torch.Generator) -> Tensor:
        return (torch.randn(n, generator=generator) * self.p_std + self.p_mean).exp()


class FakeScoreLoss:
    """Denoising loss that teaches ``D_psi`` the score of the generator's own samples.

    ``weight(s) * |D_psi(x + s*eps; s, c) - x|^2`` with EDM's weight
    ``(s^2 + sd^2) / (s * sd)^2``; ``x`` are generator samples (no gradient to the generator).
    """

    def __init__(self, sigma_data: float) -> None:
        self.sigma_data = sigma_data

    def __call__(
        self, fake_score: Denoiser, images: Tensor, cond: Tensor, sigma: Tensor, noise: Tensor
    ) -> tuple[Tensor, Tensor]:
        s = expand_sigma(sigma, images)
        weight = (s**2 + self.sigma_data**2) / (s * self.sigma_data) ** 2
        denoised = fake_score(images + s * noise, sigma, cond)
        loss = _per_sample_sum(weight * (denoised - images) ** 2)
        return loss, finite_samples(denoised)


class GeneratorLoss:
    """SiD's generator loss, with the teacher queried at ``cond_teacher`` and the fake score at
    ``cond_fake`` (equal for retained conditions; surrogate vs unsafe for forgotten ones).

    ``sum_pixels (y_real - y_fake) * ((y_real - x_g) - alpha (y_real - y_fake)) / omega`` with
    ``omega = stopgrad(mean_pixels |y_real - x_g|)`` clipped at 1e-5. The teacher and fake score
    are frozen; gradients reach the generator through ``x_g`` and the noisy input.
    """

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def __call__(
        self,
        teacher: Denoiser,
        fake_score: Denoiser,
        images: Tensor,
        cond_teacher: Tensor,
        cond_fake: Tensor,
        sigma: Tensor,
        noise: Tensor,
    ) -> tuple[Tensor, Tensor]:
        s = expand_sigma(sigma, images)
        noisy = images + s * noise
        y_real = teacher(noisy, sigma, cond_teacher)
        y_fake = fake_score(noisy, sigma, cond_fake)
        with torch.no_grad():
            omega = (y_real - images).abs().flatten(1).mean(dim=1).clamp(min=1e-5)
        omega = expand_sigma(omega, images)
        diff = y_real - y_fake
        loss = _per_sample_sum(diff * ((y_real - images) - self.alpha * diff) / omega)
        return loss, finite_samples(y_real, y_fake)
