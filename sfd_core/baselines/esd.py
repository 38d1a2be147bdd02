"""ESD, Erasing Stable Diffusion concepts (Gandikota et al. 2023), for a class-conditional model.

Data-free: x_t comes from the frozen teacher's own samples of the unsafe class, re-noised. The
fine-tuned model's prediction for the unsafe class is pushed to the negatively guided target

    eps_target = eps*(x_t, null) - eta * (eps*(x_t, c_f) - eps*(x_t, null))

from the frozen teacher ``eps*`` (the paper's form; writing it around ``eps*(x_t, c_f)`` as
``eps*_f - eta' (eps*_f - eps*_null)`` is the same target with ``eta' = 1 + eta``). There is no
retain term and no surrogate: the unsafe class is pushed away from itself, and the shared weights
it moves are why retained classes degrade.

The null prediction: the bundled teacher was trained with 10% label dropout to class 10, so it
is asked directly. For a teacher trained without label dropout, :func:`common.null_prediction`
uses the mean of its class-conditional predictions (the unconditional denoiser is their
posterior-weighted mean, and the weights tend to the uniform class prior as noise grows).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..conditions import ForgetPlan
from ..denoisers import Denoiser
from ..progress import ProgressCallback
from ..teachers import ClassConditionalTeacher
from .common import (
    Budget,
    ReplayConfig,
    ReplayPool,
    edm_mse,
    eps_to_x0,
    fine_tune,
    noise_images,
    null_prediction,
    x0_to_eps,
)


def unlearn(
    teacher: ClassConditionalTeacher,
    plan: ForgetPlan,
    budget: Budget,
    *,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    eta: float = 1.0,
    lr: float = 1e-4,
    batch_size: int = 64,
    replay: ReplayConfig = ReplayConfig(),
) -> Denoiser:
    rng = torch.Generator().manual_seed(seed)
    frozen = teacher.denoiser
    forget_ids = [int(i) for i in plan.forget_ids]
    class_ids = list(plan.names)
    pool = ReplayPool.generate(frozen, forget_ids, teacher.sample_shape, replay, rng)
    model = frozen.trainable_copy()

    def loss() -> Tensor:
        unsafe, _ = plan.sample_forget(batch_size, rng)
        noisy, sigma = noise_images(pool.draw(unsafe, rng), rng)
        with torch.no_grad():
            eps_c = x0_to_eps(noisy, frozen(noisy, sigma, unsafe), sigma)
            eps_0 = x0_to_eps(
                noisy, null_prediction(frozen, noisy, sigma, plan.null_id, class_ids), sigma
            )
            target = eps_to_x0(noisy, eps_0 - eta * (eps_c - eps_0), sigma)
        return edm_mse(model(noisy, sigma, unsafe), target, sigma)

    fine_tune(model, loss, budget, lr=lr, progress=progress)
    return model
