"""Do channels_last, bf16 autocast or torch.compile speed up an SFD iteration on the CPU?

    .venv/bin/python bench/cpu_speedups.py [--model digits] [--iterations 10] [--rounds 2]

One trainer per variant (same teacher, plan, batch and seed); blocks of iterations alternate
between the variants so that load from other processes hits them alike. The first block of each
variant is a warm-up (torch.compile compiles there; its seconds are reported apart). Prints one
JSON line: seconds per iteration and the ratio to plain fp32 for each variant.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch

from sfd_core.conditions import ForgetSpec
from sfd_core.config import SFDConfig
from sfd_core.loading import load_teacher
from sfd_core.trainer import SFDTrainer

PAIRS = {"digits": ("0", "1"), "shapes": ("red", "blue")}


def _networks(trainer: SFDTrainer) -> list[torch.nn.Module]:
    return [trainer.teacher, trainer.fake_score, trainer.generator]


def channels_last(trainer: SFDTrainer) -> None:
    for denoiser in _networks(trainer):
        denoiser.network.to(memory_format=torch.channels_last)


def compiled(trainer: SFDTrainer) -> None:
    for denoiser in _networks(trainer):
        denoiser.network = torch.compile(denoiser.network)


Prepare = Callable[[SFDTrainer], None] | None
VARIANTS: dict[str, tuple[Prepare, Callable[[], AbstractContextManager]]] = {
    "fp32": (None, nullcontext),
    "channels_last": (channels_last, nullcontext),
    "bf16_autocast": (None, lambda: torch.autocast("cpu", dtype=torch.bfloat16)),
    "compile": (compiled, nullcontext),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(PAIRS), default="digits")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    teacher = load_teacher(args.model)
    plan = teacher.plan(ForgetSpec.create(*PAIRS[args.model]))
    config = SFDConfig.from_overrides({})
    teacher.configure(config)
    names = args.variants.split(",")
    trainers = {}
    for name in names:
        trainer = SFDTrainer(teacher.denoiser, plan, config, teacher.sample_shape)
        prepare = VARIANTS[name][0]
        if prepare is not None:
            prepare(trainer)
        trainers[name] = trainer
    warmup = {}
    seconds = dict.fromkeys(names, 0.0)
    for round_ in range(args.rounds + 1):
        for name, trainer in trainers.items():
            started = time.perf_counter()
            with VARIANTS[name][1]():
                for _ in range(args.iterations):
                    trainer.train_step()
            elapsed = time.perf_counter() - started
            if round_ == 0:
                warmup[name] = round(elapsed, 1)
            else:
                seconds[name] += elapsed
    steps = args.rounds * args.iterations
    per_step = {name: round(s / steps, 4) for name, s in seconds.items()}
    ratio = {name: round(s / seconds["fp32"], 3) for name, s in seconds.items()}
    print(
        json.dumps(
            {
                "model": args.model,
                "threads": args.threads,
                "batch_size": config.batch_size,
                "seconds_per_iteration": per_step,
                "ratio_to_fp32": ratio,
                "warmup_block_seconds": warmup,
            }
        )
    )


if __name__ == "__main__":
    main()
