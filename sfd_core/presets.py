"""Per-model job defaults: each bundled model's default length, presets and warm-start share.

Measured on this project's CPU (bench/sweep.py, docs/FIDELITY.md). Importing this module loads
no torch, so the command line's and the API's help texts can name the same figures.
"""

from __future__ import annotations

from typing import Any

# User hyperparameters override a model's presets. digits draws a quarter of its warm-start
# pairs for the forget condition (FD 2.23 against 2.49 with half at 400 steps; shapes did
# worse with a quarter).
# shapes: SFD's steps at lr 3e-4 cost it diversity (0.36 vs 0.52 at 100 iterations), so they
# keep 1e-4; its warm start takes the default 3e-4.
MODEL_PRESETS: dict[str, dict[str, Any]] = {
    "digits": {"warmup_pairs": 8192, "warmup_forget_share": 0.25},
    "shapes": {"lr_generator": 1e-4, "lr_fake_score": 1e-4, "warmup_pairs": 2048},
}
# The share of a job's steps spent on the regression-only warm start (sfd_core.warmup) before
# SFD's loss takes over; a warm-start step costs a fifth of an SFD step or less. SFD's first
# steps after it do the most (digits: FD 2.1 -> 1.9 in 40 steps; shapes: retained accuracy up,
# FD flat in 20), later ones drift (docs/FIDELITY.md). A hardened job's pool trains in its
# warm start too (SFDConfig.harden_warmup_every), so it keeps the same share.
WARM_START_SHARE: dict[str, float] = {"digits": 0.98, "shapes": 0.975}
# A job's steps when its request names none: what fits the budgets on two CPU cores.
# digits: 1,960 warm-start steps + 40 SFD steps, retained FD 1.5x the teacher's over three
# seeds in 270 s of training; shapes: 760 + 20, FD 1.9x in 428 s. Any other model keeps 400:
# it has no warm start, so each of its steps is an SFD step.
DEFAULT_STEPS = 400
MODEL_STEPS: dict[str, int] = {"digits": 2000, "shapes": 780}
# A preset's warmup_pairs are for its model's default steps; a shorter job draws fewer, in
# proportion, down to this (so the teacher's sampling keeps its share of the job's time).
MIN_PRESET_PAIRS = 1024


def default_steps(model: str) -> int:
    """The steps a job on ``model`` runs when its request names none, hardened or not."""
    return MODEL_STEPS.get(model, DEFAULT_STEPS)


def job_defaults(model: str, steps: int, ranks: int = 1) -> dict[str, Any]:
    """The hyperparameters a job of ``steps`` steps on ``model`` starts from, before the
    user's own."""
    preset = dict(MODEL_PRESETS.get(model, {}))
    if "warmup_pairs" in preset:  # drawn for the model's default steps: fewer for a shorter job
        scale = min(1.0, steps / MODEL_STEPS.get(model, DEFAULT_STEPS))
        preset["warmup_pairs"] = max(MIN_PRESET_PAIRS, round(scale * preset["warmup_pairs"]))
    share = WARM_START_SHARE.get(model, 0.0)
    return {"shards": ranks, "warmup_steps": int(share * steps), **preset, "steps": steps}


def describe_default_steps() -> str:
    """The default lengths as help texts name them: ``digits 2000, shapes 780, ...``."""
    named = ", ".join(f"{model} {steps}" for model, steps in MODEL_STEPS.items())
    return f"{named}, others {DEFAULT_STEPS}"
