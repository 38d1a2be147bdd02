"""Exact-resume checkpoints in one safetensors file (no pickle).

Tensors: the fake score, generator and EMA weights, both Adam states and every shard's RNG
state (``rng`` for shard 0, ``rng_shard_S`` for the others; and, for hardened SFD, the
adversarial pool, its Adam state and what each vector last found). Everything else (step, seed,
optimiser hyperparameters, config) rides in the file's JSON metadata. Under torch.distributed
every rank calls :func:`save` (the RNG states are gathered), rank 0 writes, and every rank
loads the same file, taking its own shards' streams, so the file does not depend on the number
of ranks. A resumed run is bit-identical to an uninterrupted one on the CPU.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from . import distributed
from .config import SFDConfig

if TYPE_CHECKING:
    from .trainer import SFDTrainer

FORMAT = "sfd-checkpoint-1"


def _modules(trainer: SFDTrainer) -> dict[str, torch.nn.Module]:
    modules = {"fake_score": trainer.fake_score, "generator": trainer.generator}
    if trainer.ema is not None:  # rank 0 only
        modules["ema"] = trainer.ema
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


def _rng_key(shard: int) -> str:
    return "rng" if shard == 0 else f"rng_shard_{shard}"


def save(trainer: SFDTrainer, path: Path) -> Path:
    """Write the trainer's full state to ``path`` atomically (on rank 0)."""
    states = distributed.gather_states(
        [rng.get_state() for rng in trainer.rngs], trainer.world, trainer.device
    )
    path = Path(path)
    if trainer.world.is_main:
        _write(trainer, path, states)
    distributed.barrier(trainer.world)  # the file is there for every rank once save returns
    return path


def _write(trainer: SFDTrainer, path: Path, states: list[torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in _modules(trainer).items():
        for key, value in module.state_dict().items():
            tensors[f"{name}/{key}"] = value.detach().cpu().contiguous()
    groups = {
        name: _flatten_optimizer(name, opt.state_dict(), tensors)
        for name, opt in _optimizers(trainer).items()
    }
    for shard, state in enumerate(states):
        tensors[_rng_key(shard)] = state
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


def load(trainer: SFDTrainer, path: Path) -> None:
    """Restore a state written by :func:`save` into a trainer built with the same config."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
        if metadata.get("format") != FORMAT:
            raise ValueError(f"{path}: not an SFD checkpoint")
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open API)
    # Fields added since the file was written take their defaults.
    saved_config = SFDConfig.from_overrides(json.loads(metadata["config"])).to_dict()
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
    for rng, shard in zip(trainer.rngs, trainer.shards, strict=True):
        rng.set_state(tensors[_rng_key(shard)])
    if trainer.hardener is not None:
        trainer.hardener.found = tensors["harden_found"]
    trainer.step = int(metadata["step"])
    trainer.reseed_pairs(int(metadata.get("seed", trainer.seed)))
