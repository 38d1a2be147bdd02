"""The teacher's multi-step sampler: EDM's deterministic Heun sampler (Karras et al. 2022, Alg. 1).

Works for any :class:`~sfd_core.denoisers.Denoiser` since every denoiser is an x0-predictor on the
EDM sigma scale. This is ``edm_sampler`` without stochastic churn.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .denoisers import Denoiser


def heun_nfe(steps: int) -> int:
    """Network evaluations of :func:`heun_sample`: two per step, one for the last step."""
    return 2 * steps - 1


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> Tensor:
    """``steps`` noise levels from ``sigma_max`` down to ``sigma_min``, then a final 0 (float64)."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    inv_max, inv_min = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    sigmas = (inv_max + ramp * (inv_min - inv_max)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def heun_solve(
    denoiser: Denoiser,
    cond: Tensor,
    shape: tuple[int, ...],
    *,
    steps: int = 18,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    generator: torch.Generator | None = None,
    noise: Tensor | None = None,
    clamp: bool = True,
) -> Tensor:
    """Samples in [-1, 1] for the conditions ``cond`` (one per sample); ``clamp=False`` for
    latent models, whose samples are not images. Differentiable (attack probes steer through
    it); :func:`heun_sample` is the same without gradients.

    ``shape`` is one sample's shape, e.g. ``(1, 8, 8)``; the batch size is ``len(cond)``.
    ``noise`` (standard normal, ``(len(cond), *shape)``) replaces the draw from ``generator``.
    The schedule's ends are clamped into the denoiser's ``sigma_min``/``sigma_max``.
    """
    device = cond.device
    precond = denoiser.preconditioning
    sigma_min = max(sigma_min, precond.sigma_min)
    sigma_max = min(sigma_max, precond.sigma_max)
    if noise is None:
        noise_device = generator.device if generator is not None else device
        noise = torch.randn((len(cond), *shape), generator=generator, device=noise_device)
    elif noise.shape != (len(cond), *shape):
        raise ValueError(f"noise has shape {tuple(noise.shape)}, expected {(len(cond), *shape)}")
    sigmas = karras_sigmas(steps, sigma_min, sigma_max, rho).tolist()

    x = noise.to(device=device, dtype=torch.float32) * sigmas[0]
    for i, (s_cur, s_next) in enumerate(zip(sigmas[:-1], sigmas[1:], strict=True)):
        d_cur = (x - denoiser(x, torch.tensor(s_cur, device=device), cond)) / s_cur
        x_next = x + (s_next - s_cur) * d_cur
        if i < steps - 1:
            denoised = denoiser(x_next, torch.tensor(s_next, device=device), cond)
            d_next = (x_next - denoised) / s_next
            x_next = x + (s_next - s_cur) * 0.5 * (d_cur + d_next)
        x = x_next
    return x.clamp(-1, 1) if clamp else x


heun_sample = torch.no_grad()(heun_solve)
