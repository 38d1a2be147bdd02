"""Retrain: train the teacher's architecture from scratch on the data without the unsafe classes.

The gold standard for what "forgotten" means: the network never saw the unsafe class. It uses
the training data (the only baseline that does) and the teacher's own EDM training recipe from
:mod:`sfd_core.digits.teacher` (loss, label dropout to the null class, Adam with warm-up, EMA),
cut to the budget. The unsafe class's embedding stays at its random initialisation, so its
samples are whatever that untrained label produces, not the surrogate.
"""

from __future__ import annotations

import copy

import torch
from diffusers import UNet2DModel
from torch import Tensor

from ..conditions import ForgetPlan
from ..denoisers import Denoiser
from ..digits.data import load_digits_tensors
from ..digits.teacher import LABEL_DROPOUT, TeacherTrainingConfig, edm_loss, update_ema
from ..progress import ProgressCallback
from ..teachers import ClassConditionalTeacher
from .common import Budget, fine_tune


def unlearn(
    teacher: ClassConditionalTeacher,
    plan: ForgetPlan,
    budget: Budget,
    *,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    data: tuple[Tensor, Tensor] | None = None,
    ema_decay: float = 0.995,
    recipe: TeacherTrainingConfig = TeacherTrainingConfig(),
) -> Denoiser:
    """``data`` is ``(images, labels)`` in the teacher's space (default: the digits train split).

    ``ema_decay`` is shorter than the full recipe's (0.999 over 4500 steps) because a budgeted
    run is much shorter; the EMA copy is returned.
    """
    images, labels = data if data is not None else load_digits_tensors("train")
    keep = ~torch.isin(labels, plan.forget_ids)
    images, labels = images[keep], labels[keep]
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    network = UNet2DModel.from_config(teacher.denoiser.network.config)
    model = Denoiser(network, teacher.denoiser.preconditioning)
    ema = copy.deepcopy(model).requires_grad_(False)

    def loss() -> Tensor:
        idx = torch.randint(len(images), (recipe.batch_size,), generator=rng)
        cond = labels[idx].clone()
        if plan.null_id is not None:
            cond[torch.rand(len(cond), generator=rng) < LABEL_DROPOUT] = plan.null_id
        return edm_loss(model, images[idx], cond, rng)

    fine_tune(
        model,
        loss,
        budget,
        lr=recipe.lr,
        progress=progress,
        grad_clip=None,
        warmup_steps=recipe.warmup_steps,
        after_step=lambda: update_ema(ema, model, ema_decay),
    )
    return ema.eval()
