"""A text job's evidence: the one-step generator beside the teacher's guided multi-step sampler
on the run's forget and retain prompts, with the same report fields as class jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..config import SFDConfig
from ..evaluation.report import EVAL_SEED, GRID_PER_CLASS, TEACHER_STEPS, Evaluation
from ..grids import before_after_grid
from ..sampling import heun_nfe, heun_sample
from ..trainer import one_step_generate
from .adapter import PromptDenoiser
from .shapes_eval import ShapesEvaluator
from .teacher import TextToImageTeacher

BATCH = 250
# Analytic evaluators, by the name in a model's sfd_model.json ("evaluator").
TEXT_EVALUATORS: dict[str, Callable[[], ShapesEvaluator]] = {"shapes": ShapesEvaluator}


def _noise(n: int, shape: tuple[int, ...], seed: int) -> Tensor:
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def one_step_images(
    teacher: TextToImageTeacher,
    generator: PromptDenoiser,
    cond: Tensor,
    sigma_init: float,
    seed: int,
) -> Tensor:
    """Decoded one-step samples of ``generator`` for prompt ids ``cond``."""
    device = next(generator.parameters()).device
    noise = _noise(len(cond), teacher.sample_shape, seed)
    latents = [
        one_step_generate(generator, z.to(device), c.to(device), sigma_init).cpu()
        for z, c in zip(noise.split(BATCH), cond.split(BATCH), strict=True)
    ]
    return teacher.decode(torch.cat(latents))


@torch.no_grad()
def teacher_images(
    teacher: TextToImageTeacher, cond: Tensor, seed: int, steps: int = TEACHER_STEPS
) -> Tensor:
    """Decoded Heun samples of the (guided) teacher for prompt ids ``cond``."""
    device = next(teacher.denoiser.parameters()).device
    noise = _noise(len(cond), teacher.sample_shape, seed)
    latents = [
        heun_sample(
            teacher.denoiser,
            c.to(device),
            teacher.sample_shape,
            steps=steps,
            noise=z.to(device),
            clamp=teacher.vae is None,
        ).cpu()
        for z, c in zip(noise.split(BATCH), cond.split(BATCH), strict=True)
    ]
    return teacher.decode(torch.cat(latents))


def evaluate_text_job(
    teacher: TextToImageTeacher, generator: PromptDenoiser, config: SFDConfig, n_per_prompt: int
) -> Evaluation:
    """Score generator and teacher on every forget and retain prompt with the same seeds."""
    table = teacher.prompt_table
    plan = table.plan
    ids = [int(i) for i in plan.forget_ids] + [int(i) for i in plan.retain_ids]
    cond = torch.tensor(ids).repeat_interleave(n_per_prompt)
    prompts = [table.prompts[i] for i in cond.tolist()]

    started = time.perf_counter()
    generated = one_step_images(teacher, generator, cond, config.sigma_init, EVAL_SEED)
    generator_seconds = time.perf_counter() - started
    started = time.perf_counter()
    reference = teacher_images(teacher, cond, EVAL_SEED + 1)
    teacher_seconds = time.perf_counter() - started

    guided = teacher.prompt_denoiser.guidance_scale != 1.0
    nfe_teacher = heun_nfe(TEACHER_STEPS) * (2 if guided else 1)
    report: dict[str, Any] = {"evaluator": None}
    teacher_metrics: dict[str, Any] = {}
    load_evaluator = TEXT_EVALUATORS.get(teacher.evaluator or "")
    if load_evaluator is not None:
        evaluator = load_evaluator()
        kwargs = {"surrogate_for": table.surrogate_for, "concepts": list(table.concepts)}
        report.update(evaluator.score(generated, prompts, **kwargs))
        teacher_metrics = evaluator.score(reference, prompts, **kwargs)
        report["evaluator"] = {
            "name": evaluator.name,
            "version": evaluator.version,
            "sha256": evaluator.sha256,
        }
    n = len(cond)
    report.update(
        {
            "teacher": {
                **teacher_metrics,
                "sampler": f"heun-{TEACHER_STEPS}",
                "guidance_scale": teacher.prompt_denoiser.guidance_scale,
                "nfe": nfe_teacher,
                "images_per_second": round(n / teacher_seconds, 2),
            },
            "nfe_teacher": nfe_teacher,
            "nfe_generator": 1,
            "generator_images_per_second": round(n / generator_seconds, 2),
            "sampling_speedup": round(teacher_seconds / generator_seconds, 2),
            "eval_samples_per_class": n_per_prompt,
            "eval_seed": EVAL_SEED,
            "prompts": {
                "forget": [table.prompts[int(i)] for i in plan.forget_ids],
                "surrogate": [table.prompts[int(s[0])] for s in plan.surrogate_ids],
                "retain": [table.prompts[int(i)] for i in plan.retain_ids],
                "negative": table.negative_prompt,
            },
        }
    )
    per_prompt = min(GRID_PER_CLASS, n_per_prompt)
    rows = [slice(i * n_per_prompt, i * n_per_prompt + per_prompt) for i in range(len(ids))]
    grid = before_after_grid(
        [reference[r] for r in rows],
        [generated[r] for r in rows],
        [table.prompts[i] for i in ids],
        forgotten=[table.prompts[int(i)] for i in plan.forget_ids],
    )
    return Evaluation(report, grid)
