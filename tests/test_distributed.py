"""Data-parallel SFD over real gloo processes on the digits teacher.

Two ranks, each drawing batch B from its own shard stream, must follow the loss trajectory of
one process that draws the same two shards (batch 2B); their replicas must stay identical; a
stop on one rank stops both at the same step; and a 2-rank run resumed from its checkpoint (on
2 ranks, or on 1 process) equals the uninterrupted run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from sfd_core.conditions import ForgetSpec
from sfd_core.config import ConfigError, SFDConfig
from sfd_core.distributed import World, shard_seed
from sfd_core.loading import load_teacher
from sfd_core.trainer import SFDTrainer

STEPS, STOP_AT, SHARD_BATCH, SEED = 4, 2, 4, 7


def digits_trainer(world: World, shards: int = 2, seed: int = SEED) -> SFDTrainer:
    teacher = load_teacher("digits")
    config = SFDConfig(steps=STEPS, batch_size=SHARD_BATCH * shards, shards=shards)
    plan = teacher.plan(ForgetSpec.create("0", "1"))
    teacher.configure(config)
    return SFDTrainer(teacher.denoiser, plan, config, teacher.sample_shape, seed=seed, world=world)


def run_recording(trainer: SFDTrainer, **kwargs) -> tuple[bool, list[dict[str, float]]]:
    losses: list[dict[str, float]] = []
    done = trainer.run(on_progress=lambda event: losses.append(event.losses), **kwargs)
    return done, losses


def state(trainer: SFDTrainer) -> dict[str, torch.Tensor]:
    tensors = {f"g.{k}": v for k, v in trainer.generator.state_dict().items()}
    tensors |= {f"f.{k}": v for k, v in trainer.fake_score.state_dict().items()}
    if trainer.ema is not None:
        tensors |= {f"e.{k}": v for k, v in trainer.ema.state_dict().items()}
    return {k: v.contiguous() for k, v in tensors.items()}


def _rank(rank: int, folder: str) -> None:
    """One of two gloo ranks: an uninterrupted run, then a stopped one and its resumption."""
    torch.set_num_threads(1)
    out = Path(folder)
    dist.init_process_group(
        "gloo", init_method=f"file://{out / 'rendezvous'}", rank=rank, world_size=2
    )
    world = World(rank, 2, rank)
    try:
        straight = digits_trainer(world)
        _, losses = run_recording(straight)
        save_file(state(straight), str(out / f"straight-{rank}.safetensors"))

        stopped = digits_trainer(world)
        # Only rank 1 asks to stop; both must stop at the same step.
        done = stopped.run(should_stop=lambda: rank == 1 and stopped.step == STOP_AT)
        assert done is False and stopped.step == STOP_AT
        stopped.save_checkpoint(out / "checkpoint.safetensors")

        resumed = digits_trainer(world, seed=123)  # every stream comes from the checkpoint
        resumed.load_checkpoint(out / "checkpoint.safetensors")
        assert resumed.step == STOP_AT
        assert resumed.run() is True
        save_file(state(resumed), str(out / f"resumed-{rank}.safetensors"))
        if rank == 0:
            (out / "losses.json").write_text(json.dumps(losses))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ranks")
    mp.spawn(_rank, args=(str(folder),), nprocs=2, join=True)
    return folder


def relative_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """``|a - b| / |a - start|`` over all weights: how far apart two runs ended, as a share of
    how far training moved them (Adam turns float noise in near-zero gradients into whole
    ``lr``-sized steps, so single weights may differ more than the trajectory does)."""
    start = state(digits_trainer(World()))
    assert a.keys() == b.keys() == start.keys()

    def norm(x: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> float:
        return sum(((x[k] - y[k]) ** 2).sum() for k in x).sqrt().item()

    return norm(a, b) / norm(a, start)


def test_two_ranks_follow_one_process_drawing_the_same_two_shards(two_ranks):
    ranks = json.loads((two_ranks / "losses.json").read_text())
    one = digits_trainer(World(), shards=2)
    _, losses = run_recording(one)
    assert len(ranks) == len(losses) == STEPS
    for step_ranks, step_one in zip(ranks, losses, strict=True):
        assert step_ranks.keys() == step_one.keys()
        for name, value in step_one.items():
            assert step_ranks[name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
    straight = load_file(str(two_ranks / "straight-0.safetensors"))
    assert relative_difference(straight, state(one)) < 0.02

    # Not a tautology: one process on one shard of batch 2B draws other samples.
    single = digits_trainer(World(), shards=1)
    _, single_stream = run_recording(single)
    assert single_stream[0]["gen_retain"] != pytest.approx(losses[0]["gen_retain"], rel=1e-3)
    assert relative_difference(straight, state(single)) > 0.3


def test_replicas_stay_identical_and_resume_is_exact(two_ranks):
    rank0 = load_file(str(two_ranks / "straight-0.safetensors"))
    rank1 = load_file(str(two_ranks / "straight-1.safetensors"))
    assert not any(k.startswith("e.") for k in rank1)  # only rank 0 keeps the EMA
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank1)  # gradients were averaged
    for rank in (0, 1):
        straight = load_file(str(two_ranks / f"straight-{rank}.safetensors"))
        resumed = load_file(str(two_ranks / f"resumed-{rank}.safetensors"))
        assert straight.keys() == resumed.keys()
        assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_a_two_rank_checkpoint_resumes_on_one_process(two_ranks):
    one = digits_trainer(World(), seed=123)
    one.load_checkpoint(two_ranks / "checkpoint.safetensors")
    assert one.step == STOP_AT and one.run() is True
    straight = load_file(str(two_ranks / "straight-0.safetensors"))
    assert relative_difference(straight, state(one)) < 0.02


def test_shards_split_the_batch_and_shard_zero_keeps_the_seed():
    assert shard_seed(5, 0) == 5 and len({shard_seed(5, s) for s in range(4)}) == 4
    with pytest.raises(ConfigError, match="multiple of shards"):
        SFDConfig(batch_size=10, shards=4)
    with pytest.raises(ConfigError, match="one shard"):
        SFDConfig(shards=2, batch_size=8, harden=True)
    with pytest.raises(ValueError, match="multiple of the number of ranks"):
        World(0, 2).shards(3)
    assert list(World(1, 2).shards(4)) == [2, 3]


def _leaving_rank(rank: int, folder: str) -> None:
    """Rank 1 leaves at once; rank 0's next all-reduce must say a peer was lost."""
    from datetime import timedelta

    from sfd_core.distributed import PeerLost, average_gradients

    out = Path(folder)
    dist.init_process_group(
        "gloo",
        init_method=f"file://{out / 'rendezvous'}",
        rank=rank,
        world_size=2,
        timeout=timedelta(seconds=60),
    )
    dist.barrier()  # both ranks fully connected before one leaves
    if rank == 1:
        dist.destroy_process_group()
        return
    param = torch.nn.Parameter(torch.ones(4))
    param.grad = torch.ones(4)
    try:
        average_gradients([param], World(0, 2, 0))
        outcome = "no error"
    except PeerLost:
        outcome = "peer lost"
    except Exception as exc:  # noqa: BLE001 - the test reports what else came
        outcome = f"{type(exc).__name__}: {exc}"
    (out / "outcome").write_text(outcome)


def test_a_collective_without_its_peer_raises_peer_lost(tmp_path):
    """A rank that dies mid-run makes the survivors' collectives raise PeerLost, which the
    launcher reads as a lost rank (a retry), not as the job's engine error."""
    mp.spawn(_leaving_rank, args=(str(tmp_path),), nprocs=2, join=True)
    assert (tmp_path / "outcome").read_text() == "peer lost"
