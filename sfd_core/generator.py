"""The artifact: an unlearned one-step generator as a diffusers folder plus ``sfd.json``.

Folder layout (``UNet2DModel.from_pretrained(folder)`` loads the network with stock diffusers):
``config.json``, ``diffusion_pytorch_model.safetensors``, ``scheduler_config.json`` (the
teacher's parameterisation) and ``sfd.json`` (how to sample: sigma_init, conditioning, class
names, forget spec, source teacher sha256, library versions).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .denoisers import Denoiser, preconditioning_from_scheduler
from .loading import ModelLoadError, load_scheduler, load_unet_folder
from .trainer import one_step_generate

SFD_FILE = "sfd.json"
FORMAT = "sfd-generator-1"


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("sfd-unlearn", "torch", "diffusers", "safetensors"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def read_info(path: Path, expected_format: str) -> dict[str, Any]:
    """A generator folder's ``sfd.json``, checked to be of ``expected_format``."""
    info_file = path / SFD_FILE
    if not info_file.is_file():
        raise ModelLoadError(f"{path}: not an SFD generator (no {SFD_FILE})")
    info = json.loads(info_file.read_text())
    if info.get("format") != expected_format:
        raise ModelLoadError(f"{path}: unsupported generator format {info.get('format')!r}")
    return info


class OneStepGenerator:
    """Makes images from class labels in one network evaluation."""

    def __init__(self, denoiser: Denoiser, info: dict[str, Any]) -> None:
        self.denoiser = denoiser.requires_grad_(False).eval()
        self.info = info
        self.class_names: list[str] = info["conditioning"]["class_names"]
        self.sigma_init: float = info["sigma_init"]
        self.sample_shape: tuple[int, ...] = tuple(info["sample_shape"])

    @property
    def device(self) -> torch.device:
        return next(self.denoiser.parameters()).device

    def to(self, device: str | torch.device) -> OneStepGenerator:
        self.denoiser.to(device)
        return self

    def label_ids(self, labels: Sequence[int | str]) -> Tensor:
        """Class ids from ids or class names (``"3"`` names the class, ``3`` is its index)."""
        index = {name: i for i, name in enumerate(self.class_names)}
        ids = []
        for label in labels:
            if isinstance(label, str):
                if label not in index:
                    raise ValueError(
                        f"unknown class {label!r}; classes: {', '.join(self.class_names)}"
                    )
                ids.append(index[label])
            elif 0 <= int(label) < len(self.class_names):
                ids.append(int(label))
            else:
                raise ValueError(f"class index {label} out of range 0..{len(self.class_names) - 1}")
        return torch.tensor(ids, dtype=torch.long)

    @torch.no_grad()
    def generate(self, labels: Sequence[int | str], seed: int = 0) -> Tensor:
        """Images in [-1, 1], N x C x H x W, for ``labels``; the same seed gives the same images."""
        cond = self.label_ids(labels).to(self.device)
        rng = torch.Generator().manual_seed(seed)
        noise = torch.randn((len(cond), *self.sample_shape), generator=rng).to(self.device)
        return one_step_generate(self.denoiser, noise, cond, self.sigma_init).clamp(-1, 1).cpu()

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str | torch.device = "cpu"
    ) -> OneStepGenerator:
        path = Path(path)
        info = read_info(path, FORMAT)
        unet = load_unet_folder(path)
        denoiser = Denoiser(unet, preconditioning_from_scheduler(load_scheduler(path)))
        return cls(denoiser.to(device), info)


def save_generator(
    generator: Denoiser,
    path: Path,
    *,
    sigma_init: float,
    sample_shape: Sequence[int],
    class_names: Sequence[str],
    null_id: int | None,
    scheduler_config: dict[str, Any],
    extra: dict[str, Any],
) -> Path:
    """Write ``generator`` (its network must be a ``UNet2DModel``) as an artifact folder."""
    path = Path(path)
    generator.network.save_pretrained(path, safe_serialization=True)
    (path / "scheduler_config.json").write_text(json.dumps(scheduler_config, indent=2))
    info = {
        "format": FORMAT,
        "sigma_init": sigma_init,
        "sample_shape": list(sample_shape),
        "conditioning": {"kind": "class", "class_names": list(class_names), "null_class": null_id},
        "versions": library_versions(),
        **extra,
    }
    (path / SFD_FILE).write_text(json.dumps(info, indent=2))
    return path
