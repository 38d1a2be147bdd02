"""One pool process per GPU: ``sfd worker --gpus 0,1`` gives each pool process one device.

The main worker process never touches CUDA; each pool process sets ``CUDA_VISIBLE_DEVICES``
from its pool slot before torch is imported, so it sees exactly one GPU (as ``cuda:0``).
A pool process that dies is replaced in the same slot, hence on the same GPU.
"""

from __future__ import annotations

import os

GPUS_ENV = "SFD_WORKER_GPUS"


def parse(value: str) -> list[str]:
    gpus = [part.strip() for part in value.split(",") if part.strip()]
    if not gpus or len(set(gpus)) != len(gpus):
        raise ValueError(f"expected distinct comma-separated GPU ids, got {value!r}")
    return gpus


def pin_pool_process() -> str | None:
    """Restrict this pool process to the GPU of its slot; the GPU id, or None without GPUs."""
    value = os.environ.get(GPUS_ENV)
    if not value:
        return None
    from billiard.process import current_process

    gpus = parse(value)
    gpu = gpus[getattr(current_process(), "index", 0) % len(gpus)]
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    return gpu
