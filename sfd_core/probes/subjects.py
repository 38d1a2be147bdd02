"""Build probe subjects: from a finished job's teacher and generator, or from an artifact folder.

A subject needs a kit (steer + judge) for its model; models without one (user models whose
classes no bundled classifier knows) are not probed, and the report says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..conditions import ForgetPlan, ForgetSpec
from ..denoisers import Denoiser
from ..digits.data import CLASS_NAMES as DIGIT_CLASSES
from ..evaluation.report import TEACHER_STEPS
from ..teachers import ClassConditionalTeacher, Teacher
from ..text.teacher import TextToImageTeacher
from .budget import ProbeBudget
from .discrete import search_vocabulary
from .kits import AttackKit, DigitsKit, ShapesKit
from .suite import ProbeSubject, PromptSearch
from .target import ProbeTarget, Sampler

# Kits by the data a class model draws (its classes and sample shape), and by evaluator name
# for text models. A model the kits do not know is not probed.
CLASS_KITS: dict[tuple[tuple[str, ...], tuple[int, ...]], Callable[[Sequence[int]], AttackKit]] = {
    (tuple(DIGIT_CLASSES), (1, 8, 8)): DigitsKit
}
TEXT_KITS: dict[str, Callable[[Sequence[str]], AttackKit]] = {"shapes": ShapesKit}


def _identity(samples: Tensor) -> Tensor:
    return samples


def concept_rate(target: ProbeTarget, kit: AttackKit, cond_id: int, n: int, seed: int) -> float:
    """Judged share of ``n`` samples for condition ``cond_id`` that show the concept."""
    return float(kit.judge(target.sample(torch.tensor(cond_id), n, seed)).float().mean())


def class_target(denoiser: Denoiser, shape, sampler: Sampler, null_id: int | None) -> ProbeTarget:
    return ProbeTarget(denoiser, tuple(shape), sampler, _identity, null_id)


def class_kit(teacher: ClassConditionalTeacher, forget_ids: Sequence[int]) -> AttackKit | None:
    """The kit for a class model whose classes and sample shape a bundled kit knows."""
    key = (tuple(teacher.class_names), tuple(teacher.sample_shape))
    make_kit = CLASS_KITS.get(key)
    return None if make_kit is None else make_kit(forget_ids)


def _surrogate(plan: ForgetPlan, spec: ForgetSpec) -> int | None:
    return int(plan.surrogate_ids[0][0]) if spec.mode == "fixed" else None


def job_subject(
    teacher: Teacher,
    generator: Denoiser,
    plan: ForgetPlan,
    spec: ForgetSpec,
    *,
    sigma_init: float,
    budget: ProbeBudget,
    seed: int,
) -> ProbeSubject | None:
    """The one-step generator of a finished job; None if no kit knows the model."""
    forget_ids = [int(i) for i in plan.forget_ids]
    if isinstance(teacher, TextToImageTeacher):
        return _text_subject(teacher, generator, plan, spec, sigma_init, budget, seed)
    if not isinstance(teacher, ClassConditionalTeacher):
        return None
    kit = class_kit(teacher, forget_ids)
    if kit is None:
        return None
    shape = teacher.sample_shape
    teacher_side = class_target(teacher.denoiser, shape, Sampler(TEACHER_STEPS), teacher.null_id)
    return ProbeSubject(
        target=class_target(generator, shape, Sampler(1, sigma_init), teacher.null_id),
        kit=kit,
        forget_ids=forget_ids,
        surrogate_id=_surrogate(plan, spec),
        teacher_rate=concept_rate(teacher_side, kit, forget_ids[0], budget.teacher_samples, seed),
        concept=", ".join(plan.names[i] for i in forget_ids),
    )


def _text_subject(
    teacher: TextToImageTeacher,
    generator: Denoiser,
    plan: ForgetPlan,
    spec: ForgetSpec,
    sigma_init: float,
    budget: ProbeBudget,
    seed: int,
) -> ProbeSubject | None:
    table = teacher.prompt_table
    make_kit = TEXT_KITS.get(teacher.evaluator or "")
    if table is None or make_kit is None:
        return None
    forget_ids = [int(i) for i in plan.forget_ids]
    kit = make_kit(list(table.concepts))
    null_id = int(table.uncond_ids[forget_ids[0]])

    def target(denoiser: Denoiser, sampler: Sampler) -> ProbeTarget:
        return ProbeTarget(denoiser, teacher.sample_shape, sampler, teacher.decode, null_id)

    words = list(teacher.tokenizer.get_vocab()) if teacher.tokenizer is not None else []
    search = PromptSearch(
        encode=teacher.encode,
        vocabulary=search_vocabulary(words, [*table.prompts, *teacher.paraphrases]),
        paraphrases=list(teacher.paraphrases),
    )
    teacher_side = target(teacher.denoiser, Sampler(TEACHER_STEPS))
    return ProbeSubject(
        target=target(generator, Sampler(1, sigma_init)),
        kit=kit,
        forget_ids=forget_ids,
        surrogate_id=_surrogate(plan, spec),
        teacher_rate=concept_rate(teacher_side, kit, forget_ids[0], budget.teacher_samples, seed),
        relearnable=teacher.vae is None,
        prompt_search=search,
        concept=", ".join(table.concepts),
    )
