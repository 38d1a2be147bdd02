"""Forget "red" -> "blue" on the bundled shapes teacher; print the figures as one JSON line.

    .venv/bin/python bench/shapes_forgetting.py [--steps 300] [--batch-size 64] [--threads 1]

Figures: forget / surrogate rate and retained accuracy of the one-step EMA generator beside the
teacher's 18-step Heun sampler (same analytic evaluator, same seeds, 100 samples per prompt),
diversity (object size/position spread per prompt over the data's) of both, training wall
seconds until the forget rate first reached 2% (evaluation time excluded), one-step vs Heun
throughput, and the peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from sfd_core.conditions import ForgetSpec
from sfd_core.config import SFDConfig
from sfd_core.loading import load_teacher
from sfd_core.text.evaluate import evaluate_text_job, one_step_images
from sfd_core.text.shapes_eval import ShapesEvaluator
from sfd_core.trainer import SFDTrainer

TARGETS = {"forget_rate_max": 0.02, "retained_accuracy_drop_max": 0.02}
CHECK_SAMPLES = 50  # per forget prompt, for the forget curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--check-every", type=int, default=25)
    parser.add_argument("--eval-per-prompt", type=int, default=100)
    parser.add_argument("--set", nargs="*", default=[], help="hyperparameter overrides key=value")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    teacher = load_teacher("shapes")
    spec = ForgetSpec.create("red", "blue")
    plan = teacher.plan(spec)
    overrides = {k: json.loads(v) for k, v in (pair.split("=", 1) for pair in args.set)}
    config = SFDConfig.from_overrides(overrides, steps=args.steps, batch_size=args.batch_size)
    teacher.configure(config)
    trainer = SFDTrainer(teacher.denoiser, plan, config, teacher.sample_shape, seed=args.seed)
    evaluator = ShapesEvaluator()
    table = teacher.prompt_table
    cond = plan.forget_ids.repeat_interleave(CHECK_SAMPLES)
    prompts = [table.prompts[i] for i in cond.tolist()]

    eval_seconds, first_reached = 0.0, None
    started = time.monotonic()
    curve = []

    def forget_rate(generator) -> dict:
        nonlocal eval_seconds, first_reached
        t0 = time.monotonic()
        images = one_step_images(teacher, generator, cond, config.sigma_init, seed=7)
        scores = evaluator.score(
            images, prompts, surrogate_for=table.surrogate_for, concepts=["red"]
        )
        rate = scores["forget_rate"]
        if rate <= TARGETS["forget_rate_max"] and first_reached is None:
            seconds = t0 - started - eval_seconds
            first_reached = {"step": trainer.step, "seconds": round(seconds, 1)}
        curve.append((trainer.step, round(rate, 4)))
        eval_seconds += time.monotonic() - t0
        return {"forget_rate": rate}

    forget_rate(trainer.ema)
    trainer.run(evaluate=forget_rate, eval_every=args.check_every)
    train_seconds = time.monotonic() - started - eval_seconds
    report = evaluate_text_job(teacher, trainer.ema, config, args.eval_per_prompt).report
    t = report["teacher"]
    figures = {
        "forget_rate": report["forget_rate"],
        "surrogate_rate": report["surrogate_rate"],
        "retained_accuracy": report["retained_accuracy"],
        "teacher_retained_accuracy": t["retained_accuracy"],
        "teacher_forget_rate": t["forget_rate"],
        "retained_colour_accuracy": report["retained_colour_accuracy"],
        "retained_fd": report["retained_fd"],
        "teacher_retained_fd": t["retained_fd"],
        "diversity": report["diversity"],
        "teacher_diversity": t["diversity"],
        "diversity_vs_teacher": round(report["diversity"] / t["diversity"], 3),
        "time_to_forget_2pct": first_reached,
        "train_seconds": round(train_seconds, 1),
        "seconds_per_step": round(train_seconds / args.steps, 3),
        "generator_images_per_second": report["generator_images_per_second"],
        "teacher_images_per_second": t["images_per_second"],
        "sampling_speedup": report["sampling_speedup"],
        "nfe_teacher": report["nfe_teacher"],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "steps": args.steps,
        "batch_size": config.batch_size,
        "overrides": overrides,
        "threads": args.threads,
        "per_prompt_accuracy": report["per_prompt_accuracy"],
        "forget_curve": curve,
    }
    figures["targets_met"] = {
        "forget_rate": figures["forget_rate"] <= TARGETS["forget_rate_max"],
        "retained_accuracy": figures["retained_accuracy"]
        >= figures["teacher_retained_accuracy"] - TARGETS["retained_accuracy_drop_max"],
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
