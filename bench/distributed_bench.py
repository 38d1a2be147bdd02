"""Per-step time of data-parallel SFD: one global batch on 1, 2, ... torchrun ranks.

    .venv/bin/python bench/distributed_bench.py --nprocs 1 2                  # digits, CPU, gloo
    python bench/distributed_bench.py --model sd-tiny --device cuda --nprocs 1 2 --batch 8

Every run draws the same ``shards`` (the largest ``--nprocs``) with the same seed, so each does
the same arithmetic on the same samples, split over its ranks; only the time differs. For each
process count it prints a JSON line: seconds per SFD step (mean of ``--steps`` after
``--warmup``, timed on rank 0 between barriers), the per-rank batch and the speed-up over the
first count. ``--model``: ``digits`` (the bundled teacher), or ``sd``/``sd-tiny`` (the UNet of
bench/gpu_sizing.py, random weights, with its guided text-to-image settings).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _trainer(args: argparse.Namespace, world: Any, device: str) -> Any:
    from sfd_core.config import SFDConfig
    from sfd_core.trainer import SFDTrainer

    common = {"steps": args.warmup + args.steps, "batch_size": args.batch, "shards": args.shards}
    if args.model == "digits":
        from sfd_core.conditions import ForgetSpec
        from sfd_core.loading import load_teacher

        teacher = load_teacher("digits", device)
        config = SFDConfig(**common)
        plan = teacher.plan(ForgetSpec.create("0", "1"))
        denoiser, shape = teacher.denoiser, teacher.sample_shape
    else:
        import torch
        from gpu_sizing import PROMPTS, SD15, TINY, build_unet, sd_scheduler

        from sfd_core.conditions import ForgetPlan
        from sfd_core.denoisers import preconditioning_from_scheduler
        from sfd_core.text.adapter import PromptDenoiser

        size = TINY if args.model == "sd-tiny" else SD15
        torch.manual_seed(0)
        embeds = torch.randn(PROMPTS + 1, size["tokens"], size["cross_attention_dim"])
        denoiser = PromptDenoiser(
            build_unet(size),
            preconditioning_from_scheduler(sd_scheduler()),
            embeds,
            torch.full((PROMPTS + 1,), PROMPTS),
            guidance_scale=4.5,
        )
        plan = ForgetPlan(
            retain_ids=torch.arange(1, PROMPTS - 1),
            forget_ids=torch.tensor([0]),
            surrogate_ids=[torch.tensor([PROMPTS - 1])],
            null_id=PROMPTS,
        )
        config = SFDConfig(
            **common, alpha=1.0, guidance_scale=4.5, cond_dropout=0.1, bf16=args.bf16
        )
        shape = (4, size["sample_size"], size["sample_size"])
    return SFDTrainer(denoiser, plan, config, shape, seed=0, device=device, world=world)


def rank_main(args: argparse.Namespace) -> None:
    """One rank (under torchrun): time ``--steps`` SFD steps; rank 0 prints the figures."""
    import torch

    from sfd_core import distributed

    torch.set_num_threads(args.threads)
    world, device = distributed.init(args.device)
    trainer = _trainer(args, world, device)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        distributed.barrier(world)

    for _ in range(args.warmup):
        trainer.train_step()
    sync()
    started = time.perf_counter()
    for _ in range(args.steps):
        losses = trainer.train_step()
    sync()
    seconds = (time.perf_counter() - started) / args.steps
    if world.is_main:
        line = {
            "model": args.model,
            "device": args.device,
            "nproc": world.size,
            "global_batch": args.batch,
            "shards": args.shards,
            "batch_per_rank": args.batch // world.size,
            "seconds_per_step": round(seconds, 4),
            "finite_losses": all(v == v for v in losses.values()),
        }
        print(json.dumps(line), flush=True)
    if world.distributed:
        torch.distributed.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["digits", "sd-tiny", "sd"], default="digits")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--nprocs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=32, help="global batch")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA, sd models)")
    parser.add_argument("--shards", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help="also append every line to this JSON-lines file")
    args = parser.parse_args()
    if "RANK" in os.environ:
        rank_main(args)
        return
    shards = max(args.nprocs)
    first: float | None = None
    for nproc in args.nprocs:
        command = [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={nproc}", __file__, *sys.argv[1:], f"--shards={shards}",
        ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": f"{REPO}:{Path(__file__).parent}"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            sys.stderr.write(done.stderr[-3000:])
            raise SystemExit(f"{nproc} rank(s) failed (exit code {done.returncode})")
        line = json.loads(lines[-1])
        first = first or line["seconds_per_step"]
        line["speedup"] = round(first / line["seconds_per_step"], 2)
        print(json.dumps(line), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
