"""The prompt denoiser: classifier-free guidance maths and the unguided generator copy."""

import torch
from torch import Tensor, nn

from sfd_core.denoisers import EDMPreconditioning, VPPreconditioning
from sfd_core.text.adapter import PromptDenoiser


class Output:
    def __init__(self, sample: Tensor) -> None:
        self.sample = sample


class LinearNet(nn.Module):
    """``out = a * x + mean(embeds) + t``: enough structure to check how branches combine."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.3))
        self.calls = 0

    def forward(self, x: Tensor, t: Tensor, encoder_hidden_states: Tensor) -> Output:
        self.calls += 1
        shift = encoder_hidden_states.mean(dim=(1, 2)) + t
        return Output(self.a * x + shift.reshape(-1, 1, 1, 1))


def _denoiser(precond, scale: float) -> PromptDenoiser:
    embeds = torch.arange(4 * 3 * 2, dtype=torch.float32).reshape(4, 3, 2) / 10
    uncond = torch.tensor([3, 2, 3, 3])  # prompt 1 has the negative prompt 2 as its uncond
    return PromptDenoiser(LinearNet(), precond, embeds, uncond, guidance_scale=scale)


def test_guidance_combines_conditional_and_unconditional_x0() -> None:
    x, sigma = torch.randn(2, 1, 4, 4), torch.tensor([0.7, 3.0])
    cond = torch.tensor([0, 1])
    for precond in (EDMPreconditioning(), VPPreconditioning(torch.linspace(0.999, 0.01, 1000))):
        plain = _denoiser(precond, 1.0)
        x0_c = plain(x, sigma, cond)
        x0_u = plain(x, sigma, plain.uncond_ids[cond])
        guided = _denoiser(precond, 4.5)
        expected = x0_u + 4.5 * (x0_c - x0_u)
        torch.testing.assert_close(guided(x, sigma, cond), expected)
        assert guided.network.calls == 1  # both branches in one batched call
        x0_neg = plain(x, sigma, torch.tensor([3, 2]))
        torch.testing.assert_close(x0_u, x0_neg)  # prompt 1 is guided away from prompt 2


def test_generator_copy_is_unguided_and_trainable() -> None:
    teacher = _denoiser(EDMPreconditioning(), 4.5).requires_grad_(False)
    fake, generator = teacher.trainable_copy(), teacher.generator_copy()
    assert fake.guidance_scale == 4.5 and generator.guidance_scale == 1.0
    assert all(p.requires_grad for p in generator.parameters())
    torch.testing.assert_close(generator.prompt_embeds, teacher.prompt_embeds)
