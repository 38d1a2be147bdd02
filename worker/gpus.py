"""One pool process per GPU: ``sfd worker --gpus 0,1`` gives each pool process one device.

The main worker process never touches CUDA; each pool process sets ``CUDA_VISIBLE_DEVICES``
from its pool slot before torch is imported, so it sees exactly one GPU (as ``cuda:0``).
A pool process that dies is replaced in the same slot, hence on the same GPU.

A job of several GPUs borrows idle slots' GPUs: before claiming, a pool process locks its own
GPU and every other free one (``flock`` on a file per GPU, released by the kernel if the process
dies), claims only a job that fits, keeps what the job needs and frees the rest; the job's ranks
then see exactly those GPUs. A slot whose GPU is lent out claims nothing until it comes back.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

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


class Reservation:
    """GPUs locked by this process: its own slot's first, then free ones of other slots."""

    def __init__(self, lock_dir: Path, gpus: list[str], own: str) -> None:
        lock_dir.mkdir(parents=True, exist_ok=True)
        self._held: dict[str, int] = {}
        for gpu in [own, *[g for g in gpus if g != own]]:
            fd = os.open(lock_dir / f"gpu-{gpu}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if gpu == own:
                    break  # this slot's GPU is lent to another slot's job
                continue
            self._held[gpu] = fd

    @property
    def gpus(self) -> list[str]:
        return list(self._held)

    def keep(self, count: int) -> list[str]:
        """Free all but the first ``count`` GPUs; the kept ones."""
        for gpu in self.gpus[count:]:
            os.close(self._held.pop(gpu))
        return self.gpus

    def release(self) -> None:
        self.keep(0)


def reserve(lock_dir: Path) -> Reservation | None:
    """Lock this pool process's GPU and the free ones; None on a worker without ``--gpus``."""
    value = os.environ.get(GPUS_ENV)
    own = os.environ.get("CUDA_VISIBLE_DEVICES")
    if not value or own is None:
        return None
    return Reservation(lock_dir, parse(value), own)
