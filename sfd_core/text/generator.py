"""The text-to-image artifact: a one-step ``StableDiffusionPipeline`` folder plus ``sfd.json``.

The folder is a stock diffusers pipeline (the unlearned UNet beside the teacher's unchanged text
encoder, tokenizer, VAE and scheduler); ``sfd.json`` says how to sample it in one UNet
evaluation: ``x = D(sigma_init * z; sigma_init, prompt)`` on the EDM scale, no guidance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import diffusers
import torch
from torch import Tensor

if TYPE_CHECKING:
    from diffusers import StableDiffusionPipeline

from ..denoisers import preconditioning_from_scheduler
from ..generator import SFD_FILE, OneStepGenerator, library_versions, read_info
from ..trainer import one_step_generate
from .adapter import PromptDenoiser, encode_prompts
from .pipeline import save_pipeline_folder
from .teacher import TextToImageTeacher

FORMAT = "sfd-text-generator-1"


def save_text_generator(
    generator: PromptDenoiser,
    path: Path,
    teacher: TextToImageTeacher,
    *,
    sigma_init: float,
    extra: dict[str, Any],
) -> Path:
    """Write the unlearned UNet with the teacher's other components, and ``sfd.json``."""
    path = Path(path)
    scheduler_class = getattr(diffusers, teacher.scheduler_config["_class_name"])
    save_pipeline_folder(
        path,
        unet=generator.network,
        text_encoder=teacher.text_encoder,
        tokenizer=teacher.tokenizer,
        scheduler=scheduler_class.from_config(teacher.scheduler_config),
        vae=teacher.vae,
    )
    info = {
        "format": FORMAT,
        "sigma_init": sigma_init,
        "sample_shape": list(teacher.sample_shape),
        "conditioning": {"kind": "text", "guidance_scale": 1.0},
        "pixel_space": teacher.vae is None,
        "versions": library_versions(),
        **extra,
    }
    (path / SFD_FILE).write_text(json.dumps(info, indent=2))
    return path


class OneStepTextGenerator:
    """Makes images from prompts in one UNet evaluation, from a stock-loaded diffusers pipeline."""

    def __init__(self, pipeline: StableDiffusionPipeline, info: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.info = info
        self.sigma_init: float = info["sigma_init"]
        self.sample_shape: tuple[int, ...] = tuple(info["sample_shape"])
        empty = torch.zeros(0)
        precond = preconditioning_from_scheduler(pipeline.scheduler)
        self.denoiser = PromptDenoiser(pipeline.unet, precond, empty, empty).eval()

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str | torch.device = "cpu"
    ) -> OneStepTextGenerator:
        path = Path(path)
        info = read_info(path, FORMAT)
        vae = {"vae": None} if info.get("pixel_space") else {}
        from diffusers import StableDiffusionPipeline  # heavy import, text artifacts only

        pipeline = StableDiffusionPipeline.from_pretrained(path, use_safetensors=True, **vae)
        return cls(pipeline.to(device), info)

    @property
    def device(self) -> torch.device:
        return self.pipeline.unet.device

    @torch.no_grad()
    def latents(self, prompts: Sequence[str], seed: int = 0) -> Tensor:
        """One-step samples in the UNet's space (latents, or pixels for pixel models)."""
        if not prompts:
            raise ValueError("give at least one prompt")
        embeds = encode_prompts(self.pipeline.text_encoder, self.pipeline.tokenizer, prompts)
        self.denoiser.set_prompts(embeds, torch.zeros(len(prompts)))
        rng = torch.Generator().manual_seed(seed)
        noise = torch.randn((len(prompts), *self.sample_shape), generator=rng).to(self.device)
        cond = torch.arange(len(prompts), device=self.device)
        return one_step_generate(self.denoiser, noise, cond, self.sigma_init)

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], seed: int = 0) -> Tensor:
        """Images in [-1, 1], N x 3 x H x W, one per prompt; the same seed gives the same images."""
        latents = self.latents(prompts, seed)
        vae = self.pipeline.vae
        if vae is None:
            return latents.clamp(-1, 1).cpu()
        return vae.decode(latents / vae.config.scaling_factor).sample.clamp(-1, 1).cpu()


def load_generator(path: str | Path) -> OneStepGenerator | OneStepTextGenerator:
    """The right sampler for an artifact folder: prompts for text models, labels otherwise."""
    info_file = Path(path) / SFD_FILE
    if info_file.is_file() and json.loads(info_file.read_text()).get("format") == FORMAT:
        return OneStepTextGenerator.from_pretrained(path)
    return OneStepGenerator.from_pretrained(path)
