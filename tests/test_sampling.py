"""The EDM Heun sampler with the bundled digits teacher, and loading that teacher."""

import pytest
import torch

from sfd_core.denoisers import Denoiser, EDMPreconditioning
from sfd_core.evaluation import DigitsEvaluator
from sfd_core.loading import load_teacher
from sfd_core.sampling import heun_nfe, heun_sample, karras_sigmas
from sfd_core.teachers import ClassConditionalTeacher


@pytest.fixture(scope="module")
def teacher() -> ClassConditionalTeacher:
    return load_teacher("digits")


def _record_sigmas(denoiser: Denoiser) -> tuple[list[float], torch.utils.hooks.RemovableHandle]:
    sigmas: list[float] = []

    def hook(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
        sigmas.append(float(torch.as_tensor(args[1]).flatten()[0]))

    return sigmas, denoiser.register_forward_hook(hook)


def test_bundled_teacher_loads(teacher: ClassConditionalTeacher) -> None:
    assert teacher.class_names == [str(i) for i in range(10)]
    assert teacher.null_id == 10
    assert teacher.sample_shape == (1, 8, 8)
    assert teacher.denoiser.network.config.num_class_embeds == 11
    assert teacher.metadata["training"]["evaluator_recognition"] >= 0.98


def test_karras_schedule() -> None:
    sigmas = karras_sigmas(18, 0.002, 80.0)
    assert len(sigmas) == 19 and sigmas[-1] == 0
    assert sigmas[0].item() == pytest.approx(80.0) and sigmas[-2].item() == pytest.approx(0.002)
    assert torch.all(sigmas[1:] < sigmas[:-1])


def test_nfe_is_35_for_18_steps(teacher: ClassConditionalTeacher) -> None:
    assert heun_nfe(18) == 35 and heun_nfe(1) == 1
    sigmas, handle = _record_sigmas(teacher.denoiser)
    try:
        heun_sample(teacher.denoiser, torch.tensor([3, 5]), (1, 8, 8), steps=18)
    finally:
        handle.remove()
    assert len(sigmas) == 35
    assert sigmas[0] == pytest.approx(80.0) and sigmas[-1] == pytest.approx(0.002)


def test_schedule_ends_are_clamped_to_the_preconditioning(
    teacher: ClassConditionalTeacher,
) -> None:
    narrow = Denoiser(teacher.denoiser.network, EDMPreconditioning(sigma_min=0.01, sigma_max=10.0))
    sigmas, handle = _record_sigmas(narrow)
    try:
        heun_sample(narrow, torch.tensor([1]), (1, 8, 8), steps=5)
    finally:
        handle.remove()
    assert max(sigmas) == pytest.approx(10.0) and min(sigmas) == pytest.approx(0.01)


def test_samples_are_seeded_and_in_range(teacher: ClassConditionalTeacher) -> None:
    cond = torch.tensor([2, 7, 7])
    first = heun_sample(
        teacher.denoiser, cond, (1, 8, 8), steps=6, generator=torch.Generator().manual_seed(1)
    )
    again = heun_sample(
        teacher.denoiser, cond, (1, 8, 8), steps=6, generator=torch.Generator().manual_seed(1)
    )
    noise = torch.randn((3, 1, 8, 8), generator=torch.Generator().manual_seed(1))
    given = heun_sample(teacher.denoiser, cond, (1, 8, 8), steps=6, noise=noise)
    assert torch.equal(first, again) and torch.equal(first, given)
    assert first.shape == (3, 1, 8, 8) and first.min() >= -1 and first.max() <= 1
    with pytest.raises(ValueError, match="shape"):
        heun_sample(teacher.denoiser, cond, (1, 8, 8), noise=noise[:2])


def test_teacher_samples_are_recognised(teacher: ClassConditionalTeacher) -> None:
    cond = torch.arange(10).repeat_interleave(10)
    samples = heun_sample(
        teacher.denoiser, cond, teacher.sample_shape, generator=torch.Generator().manual_seed(0)
    )
    recognised = int((DigitsEvaluator.load().classify(samples) == cond).sum())
    assert recognised >= 95
