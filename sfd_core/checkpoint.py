"""Exact-resume checkpoints in one safetensors file (no pickle).

Tensors: the fake score, generator and EMA weights, both Adam states and the RNG state (and,
for hardened SFD, the adversarial pool, its Adam state and what each vector last found).
Everything else (step, seed, optimiser hyperparameters, config) rides in the file's JSON metadata.
A resumed run is bit-identical to an uninterrupted one on the CPU.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

if TYPE_CHECKING:
    from .trainer import SFDTrainer

FORMAT = "sfd-checkpoint-1"


def _modules(trainer: SFDTrainer) -> dict[str, torch.nn.Module]:
    modules = {"fake_score": trainer.fake_score, "generator": trainer.generator, "ema": trainer.ema}
    if trainer.hardener is not None:
        modules["harden_pool"] = trainer.hardener.pool
    return modules


def _optimizers(trainer: SFDTrainer) -> dict[str, torch.optim.Optimizer]:
    optimizers = {"opt_fake": trainer.opt_fake, "opt_generator": trainer.opt_generator}
    if trainer.hardener is not None:
        optimizers["opt_harden_pool"] = trainer.hardener.optimizer
    return optimizers


def _flatten_optimizer(
    prefix: str, state: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> list:
    for index, slots in state["state"].items():
        for name, value in slots.items():
            tensors[f"{prefix}/{index}/{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return state["param_groups"]


def save(trainer: SFDTrainer, path: Path) -> Path:
    """Write the trainer's full state to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in _modules(trainer).items():
        for key, value in module.state_dict().items():
            tensors[f"{name}/{key}"] = value.detach().cpu().contiguous()
    groups = {
        name: _flatten_optimizer(name, opt.state_dict(), tensors)
        for name, opt in _optimizers(trainer).items()
    }
    tensors["rng"] = trainer.rng.get_state()
    if trainer.hardener is not None:
        tensors["harden_found"] = trainer.hardener.found.contiguous()
    metadata = {
        "format": FORMAT,
        "step": str(trainer.step),
        "seed": str(trainer.seed),  # the warm start's pairs are rebuilt from it
        "param_groups": json.dumps(groups),
        "config": json.dumps(trainer.config.to_dict()),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


def load(trainer: SFDTrainer, path: Path) -> None:
    """Restore a state written by :func:`save` into a trainer built with the same config."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        if metadata.get("format") != FORMAT:
            raise ValueError(f"{path}: not an SFD checkpoint")
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open API)
    saved_config = json.loads(metadata["config"])
    if saved_config != trainer.config.to_dict():
        raise ValueError(f"{path}: checkpoint was written with a different configuration")
    device = trainer.device
    for name, module in _modules(trainer).items():
        prefix = f"{name}/"
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        module.load_state_dict(state)
    groups = json.loads(metadata["param_groups"])
    for name, opt in _optimizers(trainer).items():
        slots: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith(f"{name}/"):
                _, index, slot = key.split("/", 2)
                # Adam keeps its step count on the CPU unless capturable/fused.
                on_device = value if slot == "step" else value.to(device)
                slots.setdefault(int(index), {})[slot] = on_device
        opt.load_state_dict({"state": slots, "param_groups": groups[name]})
    trainer.rng.set_state(tensors["rng"])
    if trainer.hardener is not None:
        trainer.hardener.found = tensors["harden_found"]
    trainer.step = int(metadata["step"])
    trainer.reseed_pairs(int(metadata.get("seed", trainer.seed)))
