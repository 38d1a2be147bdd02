"""Cost of hardened SFD: seconds per iteration, plain vs hardened, measured in one process.

    .venv/bin/python bench/hardening_cost.py [--iterations 20] [--rounds 3] [--threads 1]

Blocks of plain and hardened iterations alternate (same teacher, plan and batch), so load from
other processes hits both alike; prints one JSON line with both rates and their ratio.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from sfd_core.conditions import ForgetSpec
from sfd_core.config import SFDConfig
from sfd_core.loading import load_teacher
from sfd_core.trainer import SFDTrainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    teacher = load_teacher("digits")
    plan = teacher.plan(ForgetSpec.create(["0"], "1"))
    trainers = {
        name: SFDTrainer(
            teacher.denoiser,
            plan,
            SFDConfig.from_overrides({"harden": harden}),
            teacher.sample_shape,
        )
        for name, harden in (("plain", False), ("hardened", True))
    }
    seconds = dict.fromkeys(trainers, 0.0)
    for _ in range(args.rounds):
        for name, trainer in trainers.items():
            started = time.perf_counter()
            for _ in range(args.iterations):
                trainer.train_step()
            seconds[name] += time.perf_counter() - started
    steps = args.rounds * args.iterations
    per_step = {name: round(s / steps, 4) for name, s in seconds.items()}
    ratio = round(seconds["hardened"] / seconds["plain"], 2)
    print(json.dumps({"seconds_per_iteration": per_step, "hardened_over_plain": ratio}))


if __name__ == "__main__":
    main()
