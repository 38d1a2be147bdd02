"""Probe a generator artifact folder (``sfd probe``), so anyone can re-check a report.

The artifact's ``sfd.json`` names its teacher; the teacher is loaded (or given) to measure the
concept's natural rate and, for text models, to rebuild the prompt table the generator uses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..conditions import ForgetSpec
from ..loading import ModelLoadError, load_teacher
from ..text.generator import OneStepTextGenerator, load_generator
from ..text.teacher import TextToImageTeacher
from .budget import PROBE_BUDGETS
from .references import apply_reference, find_reference
from .subjects import job_subject
from .suite import ProbeResult, run_probes


def _spec(info: dict, concepts: list[str]) -> ForgetSpec:
    """The artifact's own forget spec when it names these concepts, else one without fixed
    surrogates (the surrogate start is then skipped)."""
    recorded = info.get("forget") or {}
    if sorted(recorded.get("unsafe", [])) == sorted(concepts):
        return ForgetSpec.from_dict(recorded)
    return ForgetSpec.create(concepts, None, "random")


def probe_artifact(
    generator_dir: Path,
    concepts: list[str],
    *,
    budget: str = "full",
    seed: int = 0,
    teacher_ref: str | None = None,
    on_attack: Callable[[str], None] | None = None,
) -> ProbeResult:
    """Run the probes on an artifact for ``concepts``; raises ValueError/ModelLoadError on bad
    input (unknown concept, a folder that is not a generator, a teacher that cannot load)."""
    if budget not in PROBE_BUDGETS:
        raise ValueError(f"budget must be one of {', '.join(PROBE_BUDGETS)}")
    if not concepts or not all(c.strip() for c in concepts):
        raise ValueError("name at least one concept")
    generator = load_generator(Path(generator_dir))
    info = generator.info
    ref = teacher_ref or (info.get("teacher") or {}).get("source")
    if not ref:
        raise ModelLoadError(f"{generator_dir}: sfd.json names no teacher; pass a teacher")
    teacher = load_teacher(ref)
    spec = _spec(info, concepts)
    options = {}
    if isinstance(teacher, TextToImageTeacher):
        prompts = info.get("prompts") or {}
        options = {"prompts": prompts.get("forget"), "retain_prompts": prompts.get("retain")}
        options = {k: v for k, v in options.items() if v}
    plan = teacher.plan(spec, **options)
    denoiser = generator.denoiser
    if isinstance(generator, OneStepTextGenerator):
        table = teacher.prompt_table
        denoiser.set_prompts(teacher.prompt_denoiser.prompt_embeds, torch.tensor(table.uncond_ids))
    chosen = PROBE_BUDGETS[budget]
    subject = job_subject(
        teacher, denoiser, plan, spec, sigma_init=generator.sigma_init, budget=chosen, seed=seed
    )
    if subject is None:
        raise ValueError("no attack kit knows this model's classes or prompts")
    result = run_probes(subject, chosen, seed, on_attack=on_attack)
    assert result is not None  # no stop hook
    apply_reference(result.section, find_reference(teacher.sha256, subject.concept, budget))
    return result
