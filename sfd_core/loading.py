"""Loading teachers from disk: diffusers folders and safetensors files, never pickle.

Accepted layouts for a class-conditional teacher (``UNet2DModel`` with ``num_class_embeds``):

- a pipeline-style folder: ``unet/`` (``config.json`` + ``*.safetensors``) and ``scheduler/``;
- a model folder: ``config.json`` + ``diffusion_pytorch_model.safetensors`` +
  ``scheduler_config.json``;
- a ``.safetensors`` file whose folder holds ``config.json`` and ``scheduler_config.json``.

An optional ``sfd_model.json`` names the classes (``class_names``) and the unconditional class
(``null_class``). Text-to-image pipelines (``model_index.json``) are handled by loaders
registered in :data:`PIPELINE_LOADERS`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import SchedulerMixin, UNet2DModel
from safetensors import SafetensorError
from safetensors.torch import load_file

from .denoisers import Denoiser, preconditioning_from_scheduler
from .limits import ModelLimits, ModelTooLarge, check_classes, check_module
from .teachers import ClassConditionalTeacher, Teacher

BUNDLED_DIR = Path(__file__).parent / "bundled"
BUNDLED_MODELS: dict[str, Path] = {
    "digits": BUNDLED_DIR / "digits",
    "shapes": BUNDLED_DIR / "shapes",
}
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"}
METADATA_FILE = "sfd_model.json"
WEIGHTS_FILE = "diffusion_pytorch_model.safetensors"

PipelineLoader = Callable[[Path, torch.device, ModelLimits | None], Teacher]


def _load_stable_diffusion(path: Path, device: torch.device, limits: ModelLimits | None) -> Teacher:
    from .text.pipeline import load_stable_diffusion  # imported late: it imports this module

    return load_stable_diffusion(path, device, limits)


PIPELINE_LOADERS: dict[str, PipelineLoader] = {"StableDiffusionPipeline": _load_stable_diffusion}


class ModelLoadError(ValueError):
    """A model reference that cannot be loaded; the message says why in one line."""


def read_json(file: Path) -> dict:
    """A JSON object from ``file``; a broken file is a :class:`ModelLoadError`."""
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{file}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{file}: expected a JSON object")
    return data


def resolve_model_path(ref: str | Path) -> Path:
    """A bundled model name (``digits``) or a local path, checked to exist."""
    if isinstance(ref, str) and ref in BUNDLED_MODELS:
        return BUNDLED_MODELS[ref]
    path = Path(ref).expanduser()
    if not path.exists():
        bundled = ", ".join(sorted(BUNDLED_MODELS))
        raise ModelLoadError(f"model {str(ref)!r} not found (bundled models: {bundled})")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_sha256(path: Path) -> str:
    """sha256 over every file's relative name and contents, in sorted order."""
    if path.is_file():
        return file_sha256(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def refuse_pickle(folder: Path) -> None:
    """Refuse folders whose weights are only pickled (``torch.load`` would run their code)."""
    pickles = [p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES]
    if pickles and not list(folder.glob("*.safetensors")):
        raise ModelLoadError(
            f"{folder}: only pickle weights ({', '.join(sorted(pickles))}); "
            "pickle files are refused, convert them to safetensors"
        )


def load_unet_folder(
    folder: Path,
    weights: Path | None = None,
    *,
    class_conditional: bool = False,
    limits: ModelLimits | None = None,
) -> UNet2DModel:
    """A ``UNet2DModel`` from ``config.json`` and safetensors weights (no pickle, ever);
    with ``limits``, the config is checked before any weight is allocated."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(f"{folder}: no config.json")
    refuse_pickle(folder)
    weights = weights or folder / WEIGHTS_FILE
    if not weights.is_file():
        found = sorted(folder.glob("*.safetensors"))
        if len(found) != 1:
            raise ModelLoadError(f"{folder}: no safetensors weights ({WEIGHTS_FILE})")
        weights = found[0]
    config = read_json(config_file)
    if config.get("_class_name", "UNet2DModel") != "UNet2DModel":
        raise ModelLoadError(f"{folder}: expected a UNet2DModel, found {config['_class_name']}")
    if class_conditional and not config.get("num_class_embeds"):
        raise ModelLoadError(f"{folder}: the UNet has no class embeddings (num_class_embeds)")
    if limits is not None:
        checked_config(config, lambda: UNet2DModel.from_config(config), limits, "config.json")
    try:
        unet = UNet2DModel.from_config(config)
        unet.load_state_dict(load_file(weights))
    except SafetensorError as exc:
        raise ModelLoadError(f"{weights.name}: not a readable safetensors file ({exc})") from exc
    except (RuntimeError, ValueError, TypeError) as exc:
        first_problem = next(
            (line.strip() for line in str(exc).splitlines()[1:] if line.strip()), ""
        )
        raise ModelLoadError(
            f"{folder}: weights do not match config.json ({first_problem or exc})"
        ) from exc
    return unet


def checked_config(
    config: dict, build: Callable[[], torch.nn.Module], limits: ModelLimits, what: str
) -> None:
    """:func:`sfd_core.limits.check_module`, a config that cannot be built being a
    :class:`ModelLoadError` (:class:`ModelTooLarge` passes through)."""
    try:
        check_module(config, build, limits, what)
    except ModelTooLarge:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, RuntimeError) as exc:
        raise ModelLoadError(f"{what}: not a valid model config ({type(exc).__name__})") from exc


def load_scheduler(folder: Path) -> SchedulerMixin:
    """A diffusers scheduler from ``scheduler_config.json`` (its class named inside)."""
    import diffusers

    config_file = folder / "scheduler_config.json"
    if not config_file.is_file():
        raise ModelLoadError(f"{folder}: no scheduler_config.json (the noise schedule is needed)")
    config = read_json(config_file)
    cls = getattr(diffusers, config.get("_class_name", ""), None)
    if cls is None or not issubclass(cls, SchedulerMixin):
        raise ModelLoadError(f"{folder}: unknown scheduler {config.get('_class_name')!r}")
    return cls.from_config(config)


def _pair(size: int | list[int] | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def read_metadata(folder: Path) -> dict:
    file = folder / METADATA_FILE
    return read_json(file) if file.is_file() else {}


def load_teacher(
    ref: str | Path, device: str | torch.device = "cpu", limits: ModelLimits | None = None
) -> Teacher:
    """Load a teacher from a bundled name, folder or safetensors file, frozen, in eval mode;
    with ``limits`` (untrusted files), configs are checked before any allocation."""
    path = resolve_model_path(ref)
    device = torch.device(device)
    if path.is_file():
        if path.suffix in PICKLE_SUFFIXES:
            raise ModelLoadError(
                f"{path.name}: pickle files are refused, convert the weights to safetensors"
            )
        if path.suffix != ".safetensors":
            raise ModelLoadError(f"{path.name}: not a safetensors file or a diffusers folder")
        unet_dir, weights, scheduler_dir, meta_dir = path.parent, path, path.parent, path.parent
    elif (path / "model_index.json").is_file():
        index = read_json(path / "model_index.json")
        loader = PIPELINE_LOADERS.get(index.get("_class_name", ""))
        if loader is not None:
            return loader(path, device, limits)
        if not (path / "unet").is_dir():
            raise ModelLoadError(f"{path}: unsupported pipeline {index.get('_class_name')!r}")
        unet_dir, weights, scheduler_dir, meta_dir = path / "unet", None, path / "scheduler", path
    elif (path / "unet").is_dir():
        unet_dir, weights, scheduler_dir, meta_dir = path / "unet", None, path / "scheduler", path
    else:
        unet_dir, weights, scheduler_dir, meta_dir = path, None, path, path

    metadata = read_metadata(meta_dir)
    if limits is not None:
        check_classes(metadata.get("class_names"), limits)
    unet = load_unet_folder(unet_dir, weights, class_conditional=True, limits=limits)
    scheduler = load_scheduler(scheduler_dir)
    num_classes = unet.config.num_class_embeds
    null_id = metadata.get("null_class")
    class_names = metadata.get("class_names") or [
        str(i) for i in range(num_classes) if i != null_id
    ]
    denoiser = Denoiser(unet, preconditioning_from_scheduler(scheduler))
    denoiser.requires_grad_(False).eval().to(device)
    return ClassConditionalTeacher(
        denoiser=denoiser,
        sample_shape=(unet.config.in_channels, *_pair(unet.config.sample_size)),
        scheduler_config=json.loads(scheduler.to_json_string()),
        sha256=folder_sha256(path),
        source=str(ref),
        class_names=[str(c) for c in class_names],
        null_id=null_id,
        metadata=metadata,
    )
