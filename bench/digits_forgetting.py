"""Forget digit 0 -> 1 on the bundled teacher and print the issue's targets as one JSON line.

    .venv/bin/python bench/digits_forgetting.py [--steps 400] [--batch-size 64] [--threads 2]

Figures: final forget / surrogate / retained accuracy / retained FD / diversity of the EMA
generator beside the teacher's 18-step Heun sampler (same evaluator, same seeds), training wall
seconds until the forget rate first fell below 1% (evaluation time excluded), one-step vs Heun
throughput ratio, and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from sfd_core.conditions import ForgetSpec
from sfd_core.config import SFDConfig
from sfd_core.evaluation import EVALUATORS
from sfd_core.evaluation.report import evaluate_job
from sfd_core.loading import load_teacher
from sfd_core.trainer import SFDTrainer, one_step_generate

TARGETS = {
    "forget_rate_max": 0.005,
    "surrogate_rate_min": 0.95,
    "retained_accuracy_drop_max": 0.01,
    "retained_fd_ratio_max": 1.2,
    "seconds_to_forget_max": 120,
    "speedup_min": 25,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--check-every", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    teacher = load_teacher("digits")
    spec = ForgetSpec.create("0", "1")
    plan = teacher.plan(spec)
    overrides = {"batch_size": args.batch_size} if args.batch_size else {}
    config = SFDConfig.from_overrides(overrides, steps=args.steps)
    trainer = SFDTrainer(teacher.denoiser, plan, config, teacher.sample_shape, seed=args.seed)
    evaluator = EVALUATORS["digits"]()

    noise = torch.randn((200, *teacher.sample_shape), generator=torch.Generator().manual_seed(7))
    zeros = torch.zeros(200, dtype=torch.long)
    eval_seconds, first_below = 0.0, None
    started = time.monotonic()
    curve = []

    @torch.no_grad()
    def forget_rate(generator) -> dict:
        nonlocal eval_seconds, first_below
        t0 = time.monotonic()
        images = one_step_generate(generator, noise, zeros, config.sigma_init).clamp(-1, 1)
        rate = (evaluator.classify(images) == 0).float().mean().item()
        train_seconds = t0 - started - eval_seconds
        if rate < 0.01 and first_below is None:
            first_below = {"step": trainer.step, "seconds": round(train_seconds, 1)}
        curve.append((trainer.step, round(rate, 4)))
        eval_seconds += time.monotonic() - t0
        return {"forget_rate": rate}

    trainer.run(evaluate=forget_rate, eval_every=args.check_every)
    train_seconds = time.monotonic() - started - eval_seconds
    evaluation = evaluate_job(
        teacher, trainer.ema, plan, spec, config, 100, model_name="digits", surrogate_for={0: 1}
    )
    report, t = evaluation.report, evaluation.report["teacher"]
    figures = {
        "forget_rate": report["forget_rate"],
        "surrogate_rate": report["surrogate_rate"],
        "retained_accuracy": report["retained_accuracy"],
        "teacher_retained_accuracy": t["retained_accuracy"],
        "retained_fd": report["retained_fd"],
        "teacher_retained_fd": t["retained_fd"],
        "retained_fd_ratio": round(report["retained_fd"] / t["retained_fd"], 3),
        "diversity": report["diversity"],
        "teacher_diversity": t["diversity"],
        "time_to_forget_below_1pct": first_below,
        "train_seconds": round(train_seconds, 1),
        "seconds_per_step": round(train_seconds / args.steps, 3),
        "sampling_speedup": report["sampling_speedup"],
        "nfe_teacher": report["nfe_teacher"],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "steps": args.steps,
        "batch_size": config.batch_size,
        "threads": args.threads,
        "forget_curve": curve,
    }
    figures["targets_met"] = {
        "forget_rate": figures["forget_rate"] <= TARGETS["forget_rate_max"],
        "surrogate_rate": figures["surrogate_rate"] >= TARGETS["surrogate_rate_min"],
        "retained_accuracy": figures["retained_accuracy"]
        >= figures["teacher_retained_accuracy"] - TARGETS["retained_accuracy_drop_max"],
        "retained_fd": figures["retained_fd_ratio"] <= TARGETS["retained_fd_ratio_max"],
        "time_to_forget": first_below is not None
        and first_below["seconds"] <= TARGETS["seconds_to_forget_max"],
        "speedup": figures["sampling_speedup"] >= TARGETS["speedup_min"],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
