"""The adapters turn every parameterisation into the same x0 on the EDM scale."""

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, EDMEulerScheduler
from torch import nn

from sfd_core.denoisers import (
    Denoiser,
    EDMPreconditioning,
    VPPreconditioning,
    preconditioning_from_scheduler,
)


class Oracle(nn.Module):
    """A 'network' that returns a fixed answer and records what it was given."""

    def __init__(self, answer: torch.Tensor) -> None:
        super().__init__()
        self.answer = answer
        self.seen: dict = {}

    def forward(self, x, t, class_labels=None):
        self.seen = {"x": x, "t": t, "labels": class_labels}
        return type("Out", (), {"sample": self.answer})()


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("scheduler_cls", [DDPMScheduler, DDIMScheduler])
def test_vp_adapter_recovers_x0_from_diffusers_noising(prediction_type, scheduler_cls):
    scheduler = scheduler_cls(num_train_timesteps=1000, prediction_type=prediction_type)
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 1, 8, 8, generator=gen) * 2 - 1
    eps = torch.randn(4, 1, 8, 8, generator=gen)
    t = torch.tensor([10, 250, 440, 900])
    x_vp = scheduler.add_noise(x0, eps, t)
    target = {"epsilon": eps, "sample": x0}.get(prediction_type)
    if target is None:
        target = scheduler.get_velocity(x0, eps, t)

    precond = preconditioning_from_scheduler(scheduler)
    assert isinstance(precond, VPPreconditioning)
    abar = scheduler.alphas_cumprod[t]
    sigma = ((1 - abar) / abar).sqrt()
    x_edm = x_vp * (1 + sigma**2).sqrt().reshape(-1, 1, 1, 1)  # = x0 + sigma * eps
    oracle = Oracle(target)
    x0_hat = Denoiser(oracle, precond)(x_edm, sigma, torch.zeros(4, dtype=torch.long))

    torch.testing.assert_close(x0_hat, x0, atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(oracle.seen["x"], x_vp, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(oracle.seen["t"], t.float(), atol=1e-3, rtol=0)


def test_vp_timestep_interpolates_between_schedule_points():
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    precond = VPPreconditioning(scheduler.alphas_cumprod)
    sigmas = precond.log_sigmas.exp()
    mid = (precond.log_sigmas[100] + precond.log_sigmas[101]).div(2).exp()
    assert precond.timestep(mid.reshape(1)).item() == pytest.approx(100.5, abs=1e-3)
    # Outside the schedule, noise levels are clamped to its ends.
    assert precond.timestep(torch.tensor([1e-6, 1e6])).tolist() == pytest.approx([0, 999], abs=1e-3)
    assert precond.sigma_min == pytest.approx(sigmas[0].item(), rel=1e-5)


def gaussian_oracle_output(prediction_type, x_vp, t, precond, sd):
    """The ideal VP network for data ~ N(0, sd^2), computed from what the network sees."""
    log_s = torch.from_numpy(
        __import__("numpy").interp(t.numpy(), range(len(precond.log_sigmas)), precond.log_sigmas)
    ).float()
    sigma = log_s.exp().reshape(-1, 1, 1, 1)
    abar = 1 / (1 + sigma**2)
    x0 = abar.sqrt() * sd**2 / (abar * sd**2 + 1 - abar) * x_vp
    eps = (x_vp - abar.sqrt() * x0) / (1 - abar).sqrt()
    return {
        "epsilon": eps,
        "sample": x0,
        "v_prediction": abar.sqrt() * eps - (1 - abar).sqrt() * x0,
    }[prediction_type]


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_vp_and_edm_give_the_ideal_denoiser_at_matching_noise_levels(prediction_type):
    """Both parameterisations of the ideal Gaussian denoiser agree with D = x sd^2/(sd^2+s^2)."""
    sd = 0.5
    scheduler = DDPMScheduler(num_train_timesteps=1000, prediction_type=prediction_type)
    vp = VPPreconditioning(scheduler.alphas_cumprod, prediction_type)
    edm = EDMPreconditioning(sigma_data=sd, prediction_type="epsilon")
    sigma = torch.tensor([0.05, 0.5, 2.5, 20.0])
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * (
        sd**2 + sigma**2
    ).sqrt().reshape(-1, 1, 1, 1)
    ideal = x * sd**2 / (sd**2 + sigma.reshape(-1, 1, 1, 1) ** 2)

    x_vp, t = vp.network_inputs(x, sigma)
    vp_out = vp.denoised(x, sigma, gaussian_oracle_output(prediction_type, x_vp, t, vp, sd))

    x_in, _ = edm.network_inputs(x, sigma)
    s = sigma.reshape(-1, 1, 1, 1)
    c_skip, c_out = sd**2 / (s**2 + sd**2), s * sd / (s**2 + sd**2).sqrt()
    f_ideal = (ideal - c_skip * x) / c_out  # the EDM network output that yields the ideal D
    edm_out = edm.denoised(x, sigma, f_ideal)

    torch.testing.assert_close(vp_out, ideal, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(edm_out, vp_out, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_edm_adapter_matches_diffusers_edm_scheduler(prediction_type):
    scheduler = EDMEulerScheduler(sigma_data=0.5, prediction_type=prediction_type)
    precond = preconditioning_from_scheduler(scheduler)
    assert isinstance(precond, EDMPreconditioning)
    x = torch.randn(3, 1, 8, 8)
    out = torch.randn(3, 1, 8, 8)
    for sigma in (0.01, 1.0, 30.0):
        s = torch.full((3,), sigma)
        x_in, c_noise = precond.network_inputs(x, s)
        torch.testing.assert_close(x_in, scheduler.precondition_inputs(x, sigma))
        torch.testing.assert_close(
            c_noise, scheduler.precondition_noise(torch.tensor(sigma)).expand(3)
        )
        torch.testing.assert_close(
            precond.denoised(x, s, out), scheduler.precondition_outputs(x, out, sigma)
        )


def test_denoiser_passes_class_labels_and_score_matches_definition():
    oracle = Oracle(torch.zeros(2, 1, 8, 8))
    denoiser = Denoiser(oracle, EDMPreconditioning())
    x = torch.randn(2, 1, 8, 8)
    labels = torch.tensor([3, 1])
    sigma = torch.tensor([1.0, 2.0])
    score = denoiser.score(x, sigma, labels)
    assert oracle.seen["labels"] is labels
    d = denoiser(x, sigma, labels)
    torch.testing.assert_close(score, (d - x) / sigma.reshape(-1, 1, 1, 1) ** 2)
