"""Cost of hardened SFD: seconds per iteration, plain vs hardened, measured in one process.

    .venv/bin/python bench/hardening_cost.py [--iterations 20] [--rounds 3] [--threads 1]
        [--phase sfd|warm]

Blocks of plain and hardened iterations alternate (same teacher, plan and batch), so load from
other processes hits both alike; prints one JSON line with both rates and their ratio.
``--phase warm`` times warm-start steps instead of SFD steps (a hardened run's pool trains in
every ``harden_warmup_every``-th of them; keep ``--iterations`` a multiple of it); the teacher's
pairs are drawn before the clock starts.
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
    parser.add_argument("--phase", choices=("sfd", "warm"), default="sfd")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    teacher = load_teacher("digits")
    plan = teacher.plan(ForgetSpec.create(["0"], "1"))
    steps = args.rounds * args.iterations
    # A warm-start run long enough that every timed step is a warm-start step.
    phase = {"warmup_steps": steps, "steps": steps + 1} if args.phase == "warm" else {}
    trainers = {
        name: SFDTrainer(
            teacher.denoiser,
            plan,
            SFDConfig.from_overrides({"harden": harden} | phase),
            teacher.sample_shape,
        )
        for name, harden in (("plain", False), ("hardened", True))
    }
    if args.phase == "warm":
        for trainer in trainers.values():
            assert len(trainer.pairs) > 0  # drawn now, outside the timed blocks
    seconds = dict.fromkeys(trainers, 0.0)
    for _ in range(args.rounds):
        for name, trainer in trainers.items():
            started = time.perf_counter()
            for _ in range(args.iterations):
                trainer.train_step()
            seconds[name] += time.perf_counter() - started
    per_step = {name: round(s / steps, 4) for name, s in seconds.items()}
    ratio = round(seconds["hardened"] / seconds["plain"], 2)
    result = {"phase": args.phase, "seconds_per_iteration": per_step, "hardened_over_plain": ratio}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
