"""How good can the one-step generator get by regression alone? (a capacity probe for issue 11)

    .venv/bin/python bench/regression_probe.py --pairs 8192 --steps 2000

Fits the generator (the teacher's network applied once at ``sigma_init``, as SFD starts it) to
the teacher's own (noise, 18-step Heun sample) pairs with the warm start's regression loss only,
no SiD loss and nothing forgotten, and scores the EMA generator with the sweep's scorer at each
checkpoint. If regression on many pairs reaches the teacher's retained FD, the one-step network
can represent the teacher's map and SFD's plateau lies in its loss or budget; if it stalls
where SFD does, the network is the limit. Prints one JSON line per checkpoint.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from sweep import KEYS, PAIRS, Scorer

from sfd_core.conditions import ForgetSpec
from sfd_core.config import SFDConfig
from sfd_core.loading import load_teacher
from sfd_core.trainer import SFDTrainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(PAIRS), default="digits")
    parser.add_argument("--pairs", type=int, default=8192)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--checkpoints", default="250,500,1000,2000")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    teacher = load_teacher(args.model)
    spec = ForgetSpec.create(*PAIRS[args.model])
    plan = teacher.plan(spec)
    # warmup_steps = steps: the trainer only regresses (SiD's loss never runs).
    config = SFDConfig(
        steps=args.steps,
        warmup_steps=args.steps,
        warmup_pairs=args.pairs,
        batch_size=args.batch_size // 2,  # a warm-up step draws two batches
        lr_generator=args.lr,
    )
    teacher.configure(config)
    scorer = Scorer(args.model, teacher, plan, spec, config)
    trainer = SFDTrainer(teacher.denoiser, plan, config, teacher.sample_shape, seed=0)
    started = time.process_time()
    trainer.pairs  # noqa: B018 - draw them now, timed apart from the fitting
    pair_cpu = time.process_time() - started
    print(json.dumps({"pairs": args.pairs, "pair_cpu_seconds": round(pair_cpu, 1)}), flush=True)
    teacher_scores = {key: round(float(scorer.teacher_metrics[key]), 4) for key in KEYS}
    print(json.dumps({"teacher": teacher_scores}), flush=True)
    cpu = 0.0
    for target in sorted(int(c) for c in args.checkpoints.split(",")):
        cpu0 = time.process_time()
        while trainer.step < min(target, args.steps):
            losses = trainer.train_step()
        cpu += time.process_time() - cpu0
        point = {"step": trainer.step, "cpu_seconds": round(cpu, 1), **losses}
        print(json.dumps(point | scorer(trainer.ema)), flush=True)


if __name__ == "__main__":
    main()
