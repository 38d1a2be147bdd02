"""Stable Diffusion-format folders: write them, and load them as text-to-image teachers.

A folder holds ``model_index.json`` (``StableDiffusionPipeline``), ``unet/``, ``text_encoder/``,
``tokenizer/``, ``scheduler/`` and, for latent models, ``vae/`` (pixel-space models such as the
bundled ``shapes`` teacher have none and load in diffusers with ``vae=None``). Weights are read
from safetensors only; ``sfd_model.json`` may add a prompt list and an evaluator name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import transformers
from diffusers import AutoencoderKL, SchedulerMixin, UNet2DConditionModel
from safetensors import SafetensorError
from torch import nn
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from ..denoisers import preconditioning_from_scheduler
from ..limits import ModelLimits, check_classes
from ..loading import (
    METADATA_FILE,
    ModelLoadError,
    checked_config,
    folder_sha256,
    load_scheduler,
    read_json,
    read_metadata,
    refuse_pickle,
)
from .adapter import PromptDenoiser, encode_prompts
from .teacher import TextToImageTeacher


def save_pipeline_folder(
    path: Path,
    *,
    unet: UNet2DConditionModel,
    text_encoder: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    scheduler: SchedulerMixin,
    vae: nn.Module | None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a ``StableDiffusionPipeline`` folder (safetensors) and optional ``sfd_model.json``."""
    path = Path(path)
    # Imported here: the pipelines module pulls in transformers' image processors (and their
    # warnings) that class-conditional jobs never need.
    from diffusers import StableDiffusionPipeline

    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(path, safe_serialization=True)
    if metadata is not None:
        (path / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return path


REQUIRED = ("unet", "text_encoder", "tokenizer", "scheduler")


def _components(path: Path, index: dict[str, Any]) -> dict[str, Path | None]:
    """Each component's folder (None for an absent VAE), checked against ``model_index.json``."""
    listed = {name for name, entry in index.items() if isinstance(entry, list) and entry[0]}
    missing = [name for name in REQUIRED if name not in listed]
    if missing:
        raise ModelLoadError(
            f"{path}: not a Stable Diffusion folder (no {', '.join(missing)} in model_index.json)"
        )
    folders: dict[str, Path | None] = {"vae": None}
    for name in (*REQUIRED, "vae"):
        if name not in listed:
            continue
        folder = path / name
        if not folder.is_dir():
            raise ModelLoadError(f"{path}: model_index.json names {name} but there is no {name}/")
        refuse_pickle(folder)
        folders[name] = folder
    return folders


def _check_limits(
    path: Path, folders: dict[str, Path | None], text_class: type, limits: ModelLimits
) -> None:
    """Every component's config against ``limits``, built on the meta device only; the
    model's prompt list counts as its classes."""
    check_classes(read_metadata(path).get("prompts"), limits)
    builders: dict[str, Any] = {
        "unet": UNet2DConditionModel.from_config,
        "vae": AutoencoderKL.from_config,
        "text_encoder": lambda config: text_class(text_class.config_class(**config)),
    }
    for name, build in builders.items():
        folder = folders.get(name)
        if folder is None:
            continue
        config = read_json(folder / "config.json")
        checked_config(config, lambda b=build, c=config: b(c), limits, f"{name}/config.json")


def load_stable_diffusion(
    path: Path, device: torch.device, limits: ModelLimits | None = None
) -> TextToImageTeacher:
    """A ``StableDiffusionPipeline`` folder as a frozen text-to-image teacher (safetensors only);
    with ``limits``, every component's config is checked before any allocation."""
    index = read_json(path / "model_index.json")
    folders = _components(path, index)
    text_class = getattr(transformers, index["text_encoder"][1], None)
    if text_class is None or not issubclass(text_class, transformers.PreTrainedModel):
        raise ModelLoadError(f"{path}: unknown text encoder class {index['text_encoder'][1]!r}")
    if limits is not None:
        _check_limits(path, folders, text_class, limits)
    try:
        # low_cpu_mem_usage=False: that path needs `accelerate`, which we do not depend on.
        unet = UNet2DConditionModel.from_pretrained(
            folders["unet"], use_safetensors=True, low_cpu_mem_usage=False
        )
        text_encoder = text_class.from_pretrained(folders["text_encoder"], use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(folders["tokenizer"])
        vae = (
            AutoencoderKL.from_pretrained(
                folders["vae"], use_safetensors=True, low_cpu_mem_usage=False
            )
            if folders["vae"]
            else None
        )
    except (OSError, ValueError, RuntimeError, TypeError, SafetensorError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{path}: cannot load the pipeline ({first_line})") from exc
    scheduler = load_scheduler(folders["scheduler"])
    metadata = read_metadata(path)
    for module in (unet, text_encoder, vae):
        if module is not None:
            module.requires_grad_(False).eval().to(device)
    empty = encode_prompts(text_encoder, tokenizer, [""]).detach()
    denoiser = PromptDenoiser(
        unet, preconditioning_from_scheduler(scheduler), empty, torch.zeros(1)
    )
    size = unet.config.sample_size
    height, width = (size, size) if isinstance(size, int) else size
    return TextToImageTeacher(
        denoiser=denoiser.requires_grad_(False).eval().to(device),
        sample_shape=(unet.config.in_channels, int(height), int(width)),
        scheduler_config=json.loads(scheduler.to_json_string()),
        sha256=folder_sha256(path),
        source=str(path),
        metadata=metadata,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        vae=vae,
        prompts=list(metadata.get("prompts", [])),
        evaluator=metadata.get("evaluator"),
    )
