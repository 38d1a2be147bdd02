"""Denoiser adapters: every supported teacher becomes an x0-predictor ``D(x, sigma, cond)``.

``x`` is always on the EDM scale (``x = x0 + sigma * eps``), whatever the network was trained on,
so the SFD losses, samplers and the one-step generator are written once. A
:class:`Preconditioning` maps ``(x, sigma)`` to the network's inputs and its output back to an x0
estimate; a :class:`Denoiser` pairs one with a network and knows how to pass the condition.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from diffusers import SchedulerMixin
from torch import Tensor, nn

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


def expand_sigma(sigma: Tensor, x: Tensor) -> Tensor:
    """Broadcast a per-sample noise level (shape N or scalar) over an image batch."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.ndim == 0:
        sigma = sigma.expand(x.shape[0])
    return sigma.reshape(-1, *([1] * (x.ndim - 1)))


class Preconditioning:
    """Maps EDM-scale inputs to a network's inputs, and the network's output to x0."""

    sigma_min: float
    sigma_max: float

    def network_inputs(self, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(network_input, timestep)`` for noisy ``x`` at noise level ``sigma``."""
        raise NotImplementedError

    def denoised(self, x: Tensor, sigma: Tensor, output: Tensor) -> Tensor:
        """Turn the network's output for ``x`` at ``sigma`` into an x0 estimate."""
        raise NotImplementedError


class EDMPreconditioning(Preconditioning):
    """Karras et al. (2022): ``D = c_skip x + c_out F(c_in x, ln(sigma)/4)``.

    Matches diffusers' ``EDMEulerScheduler`` (``epsilon`` and ``v_prediction`` output signs).
    """

    def __init__(
        self,
        sigma_data: float = 0.5,
        prediction_type: str = "epsilon",
        sigma_min: float = 0.002,
        sigma_max: float = 80.0,
    ) -> None:
        if prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"EDM preconditioning does not support {prediction_type!r}")
        self.sigma_data = sigma_data
        self.prediction_type = prediction_type
        self.sigma_min = sigma_min
        self.sigma_max = sigma_max

    def network_inputs(self, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
        s = expand_sigma(sigma, x)
        c_in = 1.0 / torch.sqrt(s**2 + self.sigma_data**2)
        return x * c_in, 0.25 * torch.log(s.flatten())

    def denoised(self, x: Tensor, sigma: Tensor, output: Tensor) -> Tensor:
        s = expand_sigma(sigma, x)
        sd = self.sigma_data
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / torch.sqrt(s**2 + sd**2)
        if self.prediction_type == "v_prediction":
            c_out = -c_out
        return c_skip * x + c_out * output


class VPPreconditioning(Preconditioning):
    """A discrete variance-preserving (DDPM/DDIM) model on the EDM sigma scale.

    ``x_vp = x / sqrt(1 + sigma^2)`` (exact, since ``abar = 1 / (1 + sigma^2)``); the timestep is
    read off the training schedule by interpolating ``t`` against ``log sigma_t`` where
    ``sigma_t = sqrt((1 - abar_t) / abar_t)``. Noise levels outside the schedule are clamped.
    """

    def __init__(self, alphas_cumprod: Tensor, prediction_type: str = "epsilon") -> None:
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"unknown prediction type {prediction_type!r}")
        abar = alphas_cumprod.double()
        self.log_sigmas = (((1 - abar) / abar).sqrt()).log().float()
        self.prediction_type = prediction_type
        self.sigma_min = math.exp(self.log_sigmas[0].item())
        self.sigma_max = math.exp(self.log_sigmas[-1].item())

    def timestep(self, sigma: Tensor) -> Tensor:
        """Continuous timestep whose schedule sigma equals ``sigma`` (linear in log sigma)."""
        log_sigmas = self.log_sigmas.to(sigma.device)
        log_s = sigma.float().log().clamp(log_sigmas[0], log_sigmas[-1])
        upper = torch.searchsorted(log_sigmas, log_s).clamp(1, len(log_sigmas) - 1)
        lo, hi = log_sigmas[upper - 1], log_sigmas[upper]
        frac = ((log_s - lo) / (hi - lo)).clamp(0, 1)
        return (upper - 1).float() + frac

    def network_inputs(self, x: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
        s = expand_sigma(sigma, x).clamp(self.sigma_min, self.sigma_max)
        return x / torch.sqrt(1 + s**2), self.timestep(s.flatten())

    def denoised(self, x: Tensor, sigma: Tensor, output: Tensor) -> Tensor:
        s = expand_sigma(sigma, x).clamp(self.sigma_min, self.sigma_max)
        if self.prediction_type == "epsilon":
            return x - s * output
        if self.prediction_type == "v_prediction":
            root = torch.sqrt(1 + s**2)  # x0 = sqrt(abar) x_vp - sqrt(1 - abar) v
            return x / (1 + s**2) - (s / root) * output
        return output


def preconditioning_from_scheduler(scheduler: SchedulerMixin) -> Preconditioning:
    """The preconditioning a diffusers scheduler implies for the model it was trained with."""
    config = scheduler.config
    prediction_type = config.get("prediction_type", "epsilon")
    if "sigma_data" in config:  # EDMEulerScheduler, EDMDPMSolverMultistepScheduler
        return EDMPreconditioning(
            sigma_data=config["sigma_data"],
            prediction_type=prediction_type,
            sigma_min=config.get("sigma_min", 0.002),
            sigma_max=config.get("sigma_max", 80.0),
        )
    alphas_cumprod = getattr(scheduler, "alphas_cumprod", None)
    if alphas_cumprod is None:
        raise ValueError(f"unsupported scheduler {type(scheduler).__name__}: no noise schedule")
    return VPPreconditioning(torch.as_tensor(alphas_cumprod), prediction_type)


class Denoiser(nn.Module):
    """A network plus its preconditioning, as an x0-predictor on the EDM scale.

    Subclasses override :meth:`predict` to pass their kind of condition; this one passes class
    labels to a diffusers ``UNet2DModel`` (``num_class_embeds``), or, for a floating-point
    ``cond`` of shape ``N x embedding_dim``, those vectors in place of the class-embedding rows
    (free conditioning vectors, which the attack probes optimise).
    """

    def __init__(self, network: nn.Module, preconditioning: Preconditioning) -> None:
        super().__init__()
        self.network = network
        self.preconditioning = preconditioning

    def predict(self, x_in: Tensor, timestep: Tensor, cond: Any) -> Tensor:
        if not torch.is_floating_point(cond):
            return self.network(x_in, timestep, class_labels=cond).sample
        labels = torch.zeros(len(cond), dtype=torch.long, device=cond.device)
        hook = self.network.class_embedding.register_forward_hook(
            lambda _module, _inputs, output: cond.to(output.dtype)
        )
        try:
            return self.network(x_in, timestep, class_labels=labels).sample
        finally:
            hook.remove()

    def forward(self, x: Tensor, sigma: Tensor, cond: Any) -> Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        if sigma.ndim == 0:
            sigma = sigma.expand(x.shape[0])
        x_in, timestep = self.preconditioning.network_inputs(x, sigma)
        output = self.predict(x_in, timestep, cond)
        return self.preconditioning.denoised(x, sigma, output.to(x.dtype))

    def condition_table(self) -> Tensor:
        """One row per condition id, the space a free floating-point ``cond`` lives in."""
        return self.network.class_embedding.weight

    def score(self, x: Tensor, sigma: Tensor, cond: Any) -> Tensor:
        """``grad log p(x; sigma) = (D(x; sigma) - x) / sigma^2``."""
        return (self(x, sigma, cond) - x) / expand_sigma(sigma, x) ** 2

    def trainable_copy(self) -> Denoiser:
        """A deep copy whose network parameters require gradients (fake score, generator)."""
        clone = copy.deepcopy(self)
        clone.network.requires_grad_(True).train()
        return clone

    def generator_copy(self) -> Denoiser:
        """The one-step generator's starting point (text denoisers drop their guidance)."""
        return self.trainable_copy()
