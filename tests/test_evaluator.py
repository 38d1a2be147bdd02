"""The bundled digits evaluator and the model-independent metrics."""

import re

import pytest
import torch

from sfd_core.digits import load_digits_tensors
from sfd_core.evaluation import (
    EVALUATORS,
    DigitsEvaluator,
    Evaluator,
    diversity_ratio,
    forgetting_metrics,
    frechet_distance,
)

METRIC_KEYS = {
    "forget_rate",
    "surrogate_rate",
    "retained_accuracy",
    "retained_fd",
    "diversity",
    "per_class_accuracy",
}


@pytest.fixture(scope="module")
def evaluator() -> DigitsEvaluator:
    return DigitsEvaluator.load()


def test_bundled_evaluator_identity(evaluator: DigitsEvaluator) -> None:
    assert isinstance(evaluator, Evaluator)
    assert evaluator.name == "digits-cnn" and evaluator.version == "digits-cnn-1"
    assert re.fullmatch(r"[0-9a-f]{64}", evaluator.sha256)
    assert EVALUATORS["digits"]().sha256 == evaluator.sha256


def test_heldout_accuracy_at_least_98_percent(evaluator: DigitsEvaluator) -> None:
    images, labels = load_digits_tensors("test")
    predicted = evaluator.classify(images)
    assert predicted.dtype == torch.int64 and predicted.shape == labels.shape
    accuracy = (predicted == labels).float().mean().item()
    assert accuracy >= 0.98
    assert abs(accuracy - evaluator.config["heldout_accuracy"]) < 1e-3


def test_features_and_real_features(evaluator: DigitsEvaluator) -> None:
    images, labels = load_digits_tensors("all")
    feats = evaluator.features(images[:5])
    assert feats.shape == (5, evaluator.config["architecture"]["feature_dim"])
    real = evaluator.real_features([3, 7])
    assert len(real) == int(((labels == 3) | (labels == 7)).sum())
    assert torch.allclose(real, evaluator.features(images[(labels == 3) | (labels == 7)]))


def test_frechet_distance_of_real_split_is_small_and_of_noise_large(
    evaluator: DigitsEvaluator,
) -> None:
    images, _ = load_digits_tensors("all")
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(images), generator=generator)
    feats = evaluator.features(images[order])
    noise = torch.rand((900, 1, 8, 8), generator=generator) * 2 - 1
    real_vs_real = frechet_distance(feats[:900], feats[900:])
    real_vs_noise = frechet_distance(feats, evaluator.features(noise))
    assert real_vs_real < 15.0
    assert real_vs_noise > 20 * real_vs_real


def test_frechet_distance_maths() -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn((4000, 3), generator=generator, dtype=torch.float64)
    shift = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + shift) == pytest.approx(5.25, rel=1e-6)
    # N(0, I) vs N(0, 4I) in 3 dimensions: 3 * (1 + 4 - 2 * 2) = 3
    b = torch.randn((40000, 3), generator=generator, dtype=torch.float64) * 2
    c = torch.randn((40000, 3), generator=generator, dtype=torch.float64)
    assert frechet_distance(c, b) == pytest.approx(3.0, rel=0.05)
    # singular covariance (collapsed samples) stays finite
    assert frechet_distance(a, torch.zeros(10, 3, dtype=torch.float64)) > 0


def test_diversity_ratio() -> None:
    generator = torch.Generator().manual_seed(0)
    real = {c: torch.randn((500, 8), generator=generator) + c for c in range(3)}
    same = {c: torch.randn((500, 8), generator=generator) + c for c in range(3)}
    assert diversity_ratio(same, real) == pytest.approx(1.0, abs=0.05)
    assert diversity_ratio({c: 2 * (x - c) + c for c, x in real.items()}, real) == pytest.approx(2)
    collapsed = {c: x.mean(0, keepdim=True).repeat(500, 1) for c, x in real.items()}
    assert diversity_ratio(collapsed, real) == pytest.approx(0.0, abs=1e-5)


def test_forgetting_metrics_on_real_digits(evaluator: DigitsEvaluator) -> None:
    images, labels = load_digits_tensors("test")
    retain = list(range(1, 10))
    kept = forgetting_metrics(evaluator, images, labels, [0], {0: 1}, retain)
    assert set(kept) == METRIC_KEYS
    assert kept["forget_rate"] >= 0.95 and kept["surrogate_rate"] <= 0.05
    assert kept["retained_accuracy"] >= 0.98
    assert kept["retained_fd"] < 15.0 and 0.8 < kept["diversity"] < 1.2
    assert set(kept["per_class_accuracy"]) == set(range(10))

    # "forgotten": the images generated for 0 are ones
    swapped = images.clone()
    ones = images[labels == 1]
    swapped[labels == 0] = ones[: int((labels == 0).sum())]
    forgot = forgetting_metrics(evaluator, swapped, labels, [0], {0: 1}, retain)
    assert forgot["forget_rate"] <= 0.05 and forgot["surrogate_rate"] >= 0.95
    assert forgot["per_class_accuracy"][0] == forgot["forget_rate"]

    random_mode = forgetting_metrics(evaluator, swapped, labels, [0], None, retain)
    assert random_mode["surrogate_rate"] is None


def test_retained_fd_grows_when_retained_samples_degrade(evaluator: DigitsEvaluator) -> None:
    images, labels = load_digits_tensors("test")
    generator = torch.Generator().manual_seed(0)
    noisy = (images + 0.6 * torch.randn(images.shape, generator=generator)).clamp(-1, 1)
    clean = forgetting_metrics(evaluator, images, labels, [0], {0: 1}, list(range(1, 10)))
    degraded = forgetting_metrics(evaluator, noisy, labels, [0], {0: 1}, list(range(1, 10)))
    assert degraded["retained_fd"] > 3 * clean["retained_fd"]
