"""Baselines on the bundled digits teacher: each one lowers the forget rate within a few steps,
and the comparison script runs end to end at its smoke size."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sfd_core.baselines import BASELINES, Budget, ReplayConfig
from sfd_core.baselines.common import null_prediction
from sfd_core.conditions import ForgetSpec
from sfd_core.evaluation import EVALUATORS
from sfd_core.loading import load_teacher
from sfd_core.sampling import heun_sample
from tests.tiny_models import tiny_edm_denoiser

ROOT = Path(__file__).resolve().parents[1]
N_FORGET = 32
REPLAY = ReplayConfig(per_class=8, heun_steps=6)
FAST = {"lr": 1e-3, "batch_size": 32, "replay": REPLAY}
OPTIONS = {
    "Retrain": {},
    "ESD": FAST,
    "Selective Amnesia": {**FAST, "fisher_samples": 8},
    "SalUn": {**FAST, "mask_samples": 32},
    "Concept Ablation": FAST,
    "Embedding swap": {},
}
STEPS = {"Retrain": 3, "Embedding swap": 0}


@pytest.fixture(scope="module")
def setting():
    teacher = load_teacher("digits")
    plan = teacher.plan(ForgetSpec.create("0", "1"))
    evaluator = EVALUATORS["digits"]()
    noise = torch.randn(
        (N_FORGET, *teacher.sample_shape), generator=torch.Generator().manual_seed(3)
    )
    zeros = torch.zeros(N_FORGET, dtype=torch.long)

    def forget_rate(model) -> float:
        images = heun_sample(model, zeros, teacher.sample_shape, steps=8, noise=noise)
        return (evaluator.classify(images) == 0).float().mean().item()

    return teacher, plan, forget_rate, forget_rate(teacher.denoiser)


@pytest.mark.parametrize("name", list(BASELINES))
def test_baseline_lowers_forget_rate(setting, name):
    teacher, plan, forget_rate, before = setting
    assert before > 0.8
    budget = Budget(steps=STEPS.get(name, 15))
    model = BASELINES[name](teacher, plan, budget, seed=0, **OPTIONS[name])
    assert not any(p.requires_grad for p in model.parameters())
    after = forget_rate(model)
    assert after < before - 0.3, f"{name}: forget rate {before:.2f} -> {after:.2f}"


def test_null_prediction_without_null_class_is_the_class_mean():
    denoiser = tiny_edm_denoiser(num_classes=3)
    x, sigma = torch.randn(2, 1, 8, 8), torch.tensor([0.5, 2.0])
    with torch.no_grad():
        mean = null_prediction(denoiser, x, sigma, None, [0, 1, 2])
        each = [denoiser(x, sigma, torch.full((2,), c)) for c in range(3)]
    torch.testing.assert_close(mean, torch.stack(each).mean(0))


def test_compare_smoke(tmp_path):
    subprocess.run(
        [sys.executable, "bench/compare.py", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    table = (tmp_path / "compare.md").read_text()
    for name in ("SFD (engine)", "Teacher", *BASELINES):
        assert f"| {name}" in table
    assert (tmp_path / "compare.png").stat().st_size > 0
