"""Data-parallel SFD under torch.distributed: ranks, shards and the few collectives it needs.

A run is cut into ``shards`` (``SFDConfig.shards``): each shard draws its noise and conditions
from its own RNG stream, derived from the job seed, and the global batch is the union of the
shards' batches. Ranks own contiguous blocks of shards (the world size divides ``shards``), so
the same run on 1, 2 or ``shards`` processes draws the same samples and averages the same
per-shard losses; the results differ only by floating-point summation order. Gradients are
averaged with one all-reduce per bucket; rank 0 alone keeps the EMA and writes checkpoints,
evaluation and the artifact. Processes are started by torchrun, whose environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) :func:`init` reads.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

BUCKET_BYTES = 64 * 2**20  # gradients all-reduced together, at most this many bytes at once


class PeerLost(RuntimeError):
    """A collective failed: another rank is gone or cannot be reached. Not this job's fault: the
    launcher treats it as a lost rank (the attempt is retried), not as an engine error."""


@contextmanager
def _collective() -> Iterator[None]:
    try:
        yield
    except RuntimeError as exc:  # gloo and NCCL report a closed or broken peer so
        raise PeerLost(str(exc)) from exc


@dataclass(frozen=True)
class World:
    """This process's place in the job: its rank, the number of ranks, its rank on its host."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> World:
        """The world torchrun describes in the environment (one process if it is not set)."""
        env = os.environ
        rank, size = int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1"))
        return cls(rank, size, int(env.get("LOCAL_RANK", "0")))

    def shards(self, total: int) -> range:
        """The shards this rank draws and trains on."""
        if total % self.size:
            raise ValueError(
                f"shards ({total}) must be a multiple of the number of ranks ({self.size})"
            )
        per_rank = total // self.size
        return range(self.rank * per_rank, (self.rank + 1) * per_rank)


def init(device: str) -> tuple[World, str]:
    """Join torchrun's process group (gloo on the CPU, NCCL on CUDA); the world and the device
    this rank trains on (``cuda`` becomes ``cuda:LOCAL_RANK``)."""
    world = World.from_env()
    if world.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    if device == "cuda" and world.distributed:
        device = f"cuda:{world.local_rank}"
        torch.cuda.set_device(device)
    return world, device


def shard_seed(seed: int, shard: int) -> int:
    """The seed of one shard's stream; shard 0 keeps the job seed (a one-shard run is unchanged)."""
    if shard == 0:
        return seed
    digest = hashlib.sha256(f"sfd-shard:{seed}:{shard}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _buckets(tensors: list[Tensor], limit: int) -> Iterable[list[Tensor]]:
    bucket: list[Tensor] = []
    size = 0
    for t in tensors:
        if bucket and (size + t.numel() * t.element_size() > limit or t.dtype != bucket[0].dtype):
            yield bucket
            bucket, size = [], 0
        bucket.append(t)
        size += t.numel() * t.element_size()
    if bucket:
        yield bucket


def average_gradients(params: Iterable[torch.nn.Parameter], world: World) -> None:
    """Replace every gradient by its mean over the ranks (bucketed all-reduces)."""
    grads = [p.grad for p in params if p.grad is not None]
    for bucket in _buckets(grads, BUCKET_BYTES):
        flat = torch.cat([g.reshape(-1) for g in bucket])
        with _collective():
            dist.all_reduce(flat)
        flat /= world.size
        for grad, synced in zip(bucket, flat.split([g.numel() for g in bucket]), strict=True):
            grad.copy_(synced.view_as(grad))


def any_rank(flag: bool, world: World, device: torch.device) -> bool:
    """True on every rank if it is true on any (a stop asked on one rank stops them all)."""
    if not world.distributed:
        return flag
    value = torch.tensor([int(flag)], device=device)
    with _collective():
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def sum_over_ranks(values: list[float], world: World, device: torch.device) -> list[float]:
    """Element-wise sums of ``values`` over the ranks."""
    if not world.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    with _collective():
        dist.all_reduce(tensor)
    return tensor.tolist()


def barrier(world: World) -> None:
    """Wait for every rank."""
    if world.distributed:
        with _collective():
            dist.barrier()


def gather_states(local: list[Tensor], world: World, device: torch.device) -> list[Tensor]:
    """Every shard's RNG state in shard order, on every rank (CPU byte tensors)."""
    if not world.distributed:
        return local
    stacked = torch.stack(local).to(device)
    parts = [torch.empty_like(stacked) for _ in range(world.size)]
    with _collective():
        dist.all_gather(parts, stacked)
    return [state.cpu() for part in parts for state in part]
