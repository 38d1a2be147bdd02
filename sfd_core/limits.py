"""Size limits on untrusted model configs, checked before any weight is allocated.

A model's size follows from its config: the network is built on PyTorch's ``meta`` device
(shapes only, no memory) to count its parameters, after cheap checks of the numbers that
would make even that slow (channels, blocks, layers). A service passes its limits to
:func:`sfd_core.loading.load_teacher`; the command line trusts local files and passes none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

MAX_BLOCKS = 8
MAX_LAYERS_PER_BLOCK = 8


class ModelTooLarge(ValueError):
    """A config over a limit; the message names the limit."""


@dataclass(frozen=True)
class ModelLimits:
    max_parameters: int = 200_000_000
    max_channels: int = 2048
    max_sample_size: int = 512
    max_classes: int = 1000


def _numbers(value: Any) -> list[int]:
    """The integers in a config value (an int or a list of them); anything else is none."""
    items = value if isinstance(value, list | tuple) else [value]
    return [int(v) for v in items if isinstance(v, int | float) and not isinstance(v, bool)]


def check_shape(config: dict[str, Any], limits: ModelLimits, what: str) -> None:
    """Channels, sample size, classes, blocks and layers: plain numbers, no network built."""
    channel_keys = ("block_out_channels", "hidden_size", "intermediate_size", "in_channels")
    for key in channel_keys + ("out_channels", "cross_attention_dim", "norm_num_groups"):
        limit = limits.max_channels * (4 if key == "intermediate_size" else 1)
        if any(n > limit for n in _numbers(config.get(key))):
            raise ModelTooLarge(f"{what}: {key} exceeds {limit}")
    if any(n > limits.max_sample_size for n in _numbers(config.get("sample_size"))):
        raise ModelTooLarge(f"{what}: sample_size exceeds {limits.max_sample_size}")
    classes = _numbers(config.get("num_class_embeds"))
    if any(n > limits.max_classes + 1 for n in classes):  # + the null class
        raise ModelTooLarge(f"{what}: num_class_embeds exceeds {limits.max_classes}")
    blocks = config.get("block_out_channels") or config.get("down_block_types") or []
    layers = _numbers(config.get("layers_per_block")) + _numbers(config.get("num_hidden_layers"))
    if len(blocks) > MAX_BLOCKS or any(n > MAX_LAYERS_PER_BLOCK * 8 for n in layers):
        raise ModelTooLarge(f"{what}: too many blocks or layers")
    if any(n > MAX_LAYERS_PER_BLOCK for n in _numbers(config.get("layers_per_block"))):
        raise ModelTooLarge(f"{what}: layers_per_block exceeds {MAX_LAYERS_PER_BLOCK}")


def parameters_on_meta(build: Callable[[], torch.nn.Module]) -> int:
    """How many parameters ``build()`` makes, built on the meta device (no memory)."""
    with torch.device("meta"):
        module = build()
    return sum(p.numel() for p in module.parameters())


def check_module(
    config: dict[str, Any], build: Callable[[], torch.nn.Module], limits: ModelLimits, what: str
) -> int:
    """:func:`check_shape`, then the parameter count; the count."""
    check_shape(config, limits, what)
    count = parameters_on_meta(build)
    if count > limits.max_parameters:
        raise ModelTooLarge(
            f"{what}: {count:,} parameters exceed the limit of {limits.max_parameters:,}"
        )
    return count


def check_classes(names: list[Any] | None, limits: ModelLimits) -> None:
    if names is not None and len(names) > limits.max_classes:
        raise ModelTooLarge(f"{len(names)} class names exceed the limit of {limits.max_classes}")
