"""A job's evidence: metrics of the one-step generator beside the teacher's multi-step sampler,
sampling speed of both, and the before/after sample grid."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from ..conditions import ForgetPlan, ForgetSpec
from ..config import SFDConfig
from ..denoisers import Denoiser
from ..grids import before_after_grid
from ..sampling import heun_nfe, heun_sample
from ..teachers import Teacher
from ..trainer import one_step_generate
from . import EVALUATORS
from .metrics import forgetting_metrics

EVAL_SEED = 20250101  # fixed, so reports of different jobs are comparable
TEACHER_STEPS = 18
GRID_PER_CLASS = 8
BATCH = 500

_teacher_samples: dict[tuple[str, int, int], tuple[Tensor, float]] = {}


@dataclass
class Evaluation:
    report: dict[str, Any]
    grid: Image.Image


def _noise(n: int, shape: tuple[int, ...], seed: int) -> Tensor:
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def _one_step_samples(generator: Denoiser, labels: Tensor, shape, sigma_init: float) -> Tensor:
    device = next(generator.parameters()).device
    noise = _noise(len(labels), shape, EVAL_SEED)
    chunks = [
        one_step_generate(generator, z.to(device), c.to(device), sigma_init).clamp(-1, 1).cpu()
        for z, c in zip(noise.split(BATCH), labels.split(BATCH), strict=True)
    ]
    return torch.cat(chunks)


def _teacher_samples_cached(
    teacher: Teacher, labels: Tensor, n_per_class: int
) -> tuple[Tensor, float]:
    """Teacher samples (and seconds taken) for the fixed eval seed, computed once per process."""
    key = (teacher.sha256, n_per_class, len(labels))
    if key not in _teacher_samples:
        device = next(teacher.denoiser.parameters()).device
        noise = _noise(len(labels), teacher.sample_shape, EVAL_SEED + 1)
        started = time.perf_counter()
        chunks = [
            heun_sample(
                teacher.denoiser,
                c.to(device),
                teacher.sample_shape,
                steps=TEACHER_STEPS,
                noise=z.to(device),
            ).cpu()
            for z, c in zip(noise.split(BATCH), labels.split(BATCH), strict=True)
        ]
        _teacher_samples[key] = (torch.cat(chunks), time.perf_counter() - started)
    return _teacher_samples[key]


def evaluate_job(
    teacher: Teacher,
    generator: Denoiser,
    plan: ForgetPlan,
    spec: ForgetSpec,
    config: SFDConfig,
    n_per_class: int,
    *,
    model_name: str,
    surrogate_for: dict[int, int] | None,
) -> Evaluation:
    """Score the unlearned generator and the teacher on the same classes and seeds."""
    class_ids = sorted(plan.names)
    labels = torch.tensor(class_ids).repeat_interleave(n_per_class)

    started = time.perf_counter()
    generated = _one_step_samples(generator, labels, teacher.sample_shape, config.sigma_init)
    generator_seconds = time.perf_counter() - started
    reference, teacher_seconds = _teacher_samples_cached(teacher, labels, n_per_class)

    forget_ids = [int(i) for i in plan.forget_ids]
    retain_ids = [int(i) for i in plan.retain_ids]
    report: dict[str, Any] = {}
    load_evaluator = EVALUATORS.get(model_name)
    teacher_metrics: dict[str, Any] = {}
    if load_evaluator is not None:
        evaluator = load_evaluator()
        args = (labels, forget_ids, surrogate_for, retain_ids)
        report.update(forgetting_metrics(evaluator, generated, *args))
        teacher_metrics = forgetting_metrics(evaluator, reference, *args)
        report["evaluator"] = {
            "name": evaluator.name,
            "version": evaluator.version,
            "sha256": evaluator.sha256,
        }
    else:
        report["evaluator"] = None  # a user model: no classifier for its classes
    n = len(labels)
    report.update(
        {
            "teacher": {
                **teacher_metrics,
                "sampler": f"heun-{TEACHER_STEPS}",
                "nfe": heun_nfe(TEACHER_STEPS),
                "images_per_second": round(n / teacher_seconds, 2),
            },
            "nfe_teacher": heun_nfe(TEACHER_STEPS),
            "nfe_generator": 1,
            "generator_images_per_second": round(n / generator_seconds, 2),
            "sampling_speedup": round(teacher_seconds / generator_seconds, 2),
            "eval_samples_per_class": n_per_class,
            "eval_seed": EVAL_SEED,
        }
    )
    per_class = min(GRID_PER_CLASS, n_per_class)
    rows = [slice(i * n_per_class, i * n_per_class + per_class) for i in range(len(class_ids))]
    grid = before_after_grid(
        [reference[r] for r in rows],
        [generated[r] for r in rows],
        [plan.names[i] for i in class_ids],
        forgotten=[plan.names[i] for i in forget_ids],
    )
    return Evaluation(report, grid)
