"""Embedding swap: copy the surrogate's class embedding over the unsafe class's one.

No training at all: asked for the unsafe class, the network sees the surrogate's label. This is
the trivial floor every method must beat; it is also trivially undone by anyone who holds the
weights of another class (the unsafe class's knowledge is still in the network).
"""

from __future__ import annotations

import torch

from ..conditions import ForgetPlan
from ..denoisers import Denoiser
from ..progress import ProgressCallback
from ..teachers import ClassConditionalTeacher
from .common import Budget, class_embedding


def unlearn(
    teacher: ClassConditionalTeacher,
    plan: ForgetPlan,
    budget: Budget | None = None,
    *,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> Denoiser:
    """Each unsafe id gets the mean embedding of its surrogate candidates (one in fixed mode).

    ``budget``, ``seed`` and ``progress`` are accepted for a uniform interface; nothing trains.
    """
    model = teacher.denoiser.trainable_copy()
    weight = class_embedding(model).weight
    with torch.no_grad():
        for unsafe, candidates in zip(plan.forget_ids, plan.surrogate_ids, strict=True):
            weight[int(unsafe)] = weight[candidates.long()].mean(0)
    return model.requires_grad_(False).eval()
