"""Train the bundled digits teacher: a class-conditional ``UNet2DModel`` with the EDM loss.

Class ``NULL_CLASS`` (10) is the unconditional class: ``LABEL_DROPOUT`` of the training labels
are replaced by it, so the teacher also gives an unconditional prediction.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from diffusers import EDMEulerScheduler, UNet2DModel
from torch import Tensor
from tqdm import tqdm

from ..denoisers import Denoiser, EDMPreconditioning
from ..loading import BUNDLED_MODELS, METADATA_FILE
from ..sampling import heun_sample
from .data import CLASS_NAMES, load_digits_tensors

NULL_CLASS = 10
LABEL_DROPOUT = 0.1
SIGMA_DATA = 0.5
P_MEAN, P_STD = -1.2, 1.2


@dataclass
class TeacherTrainingConfig:
    steps: int = 4500
    batch_size: int = 128
    lr: float = 1e-3
    warmup_steps: int = 200
    ema: float = 0.999
    seed: int = 0


def build_unet() -> UNet2DModel:
    """The digits UNet: 8x8 -> 4x4, 32/64 channels, self-attention at 4x4, 11 class embeddings."""
    return UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
        num_class_embeds=NULL_CLASS + 1,
        flip_sin_to_cos=True,
        freq_shift=0,
    )


def edm_scheduler() -> EDMEulerScheduler:
    return EDMEulerScheduler(
        sigma_data=SIGMA_DATA, prediction_type="epsilon", sigma_min=0.002, sigma_max=80.0
    )


def edm_loss(denoiser: Denoiser, x0: Tensor, labels: Tensor, generator: torch.Generator) -> Tensor:
    """EDM loss (Karras 2022): ``ln sigma ~ N(P_MEAN, P_STD^2)``, weighted, summed per image."""
    sigma = (torch.randn(len(x0), generator=generator) * P_STD + P_MEAN).exp()
    noise = torch.randn(x0.shape, generator=generator)
    weight = (sigma**2 + SIGMA_DATA**2) / (sigma * SIGMA_DATA) ** 2
    denoised = denoiser(x0 + sigma[:, None, None, None] * noise, sigma, labels)
    return (weight * (denoised - x0).square().flatten(1).sum(1)).mean()


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - decay)


def train_teacher(
    config: TeacherTrainingConfig, exclude: Sequence[int] = ()
) -> tuple[UNet2DModel, dict]:
    """Train on the digits train split without the ``exclude`` classes (a reference model that
    never learned them); return the EMA UNet and a training summary."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    images, labels = load_digits_tensors("train")
    keep = ~torch.isin(labels, torch.tensor(list(exclude), dtype=labels.dtype))
    images, labels = images[keep], labels[keep]
    unet = build_unet()
    ema_unet = copy.deepcopy(unet).requires_grad_(False)
    denoiser = Denoiser(unet, EDMPreconditioning(SIGMA_DATA, "epsilon"))
    optimizer = torch.optim.Adam(unet.parameters(), lr=config.lr, betas=(0.9, 0.999))
    warmup = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / config.warmup_steps)
    )
    start, running = time.time(), None
    for step in (bar := tqdm(range(config.steps), desc="teacher")):
        idx = torch.randint(len(images), (config.batch_size,), generator=generator)
        cond = labels[idx].clone()
        cond[torch.rand(config.batch_size, generator=generator) < LABEL_DROPOUT] = NULL_CLASS
        loss = edm_loss(denoiser, images[idx], cond, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        warmup.step()
        update_ema(ema_unet, unet, config.ema)
        running = loss.item() if running is None else 0.99 * running + 0.01 * loss.item()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{running:.4f}")
    summary = {
        **asdict(config),
        "excluded_classes": [CLASS_NAMES[i] for i in exclude],
        "wall_seconds": round(time.time() - start, 1),
        "final_loss": round(running, 4),
    }
    return ema_unet.eval(), summary


def sample_recognition(unet: UNet2DModel, per_class: int, seed: int) -> tuple[Tensor, float]:
    """18-step Heun samples (``per_class`` per digit) and the share the evaluator recognises."""
    from ..evaluation.digits import DigitsEvaluator

    denoiser = Denoiser(unet, EDMPreconditioning(SIGMA_DATA, "epsilon"))
    cond = torch.arange(10).repeat_interleave(per_class)
    generator = torch.Generator().manual_seed(seed)
    samples = heun_sample(denoiser, cond, (1, 8, 8), generator=generator)
    recognised = DigitsEvaluator.load().classify(samples) == cond
    return samples, float(recognised.float().mean())


def _excluded_note(excluded: Sequence[str]) -> str:
    if not excluded:
        return ""
    return (
        f" Trained without class(es) {', '.join(excluded)}: a reference model that never learned"
        " them (their embedding rows are untrained)."
    )


def save_teacher(unet: UNet2DModel, training: dict, out: Path = BUNDLED_MODELS["digits"]) -> None:
    """Write the pipeline-style folder ``load_teacher`` reads: unet/, scheduler/, sfd_model.json."""
    unet.save_pretrained(out / "unet", safe_serialization=True)
    edm_scheduler().save_pretrained(out / "scheduler")
    metadata = {
        "class_names": CLASS_NAMES,
        "null_class": NULL_CLASS,
        "data_range": [-1, 1],
        "description": (
            "Class-conditional EDM diffusion model of scikit-learn's 8x8 digits; class 10 is "
            "the unconditional (null) class. Sample with the 18-step Heun sampler (35 NFE)."
            + _excluded_note(training.get("excluded_classes", []))
        ),
        "training": training,
    }
    (out / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
