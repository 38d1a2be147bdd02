"""Sweep SFD's settings on a bundled teacher: fidelity and diversity against CPU time.

    .venv/bin/python bench/sweep.py --model digits --settings default,warm100 --steps 400
    .venv/bin/python bench/sweep.py --report-only

Each setting trains once to ``--steps``; at each of ``--checkpoints`` the EMA generator is scored
as a job report scores it (forget and surrogate rate, retained accuracy, retained FD, diversity;
the same evaluator and seeds as the teacher's 18-step Heun samples). Time is this process's CPU
seconds of training (evaluation excluded; one thread), which other processes on a shared machine
do not inflate, and wall seconds. One JSON per setting lands in
``bench/results/sweep/<model>/``; the report (``sweep.md``, ``sweep-<model>.png``) is rebuilt
from all of them, so settings can be run in separate processes.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from few_step import ChainGenerator, FewStepTrainer

from sfd_core.conditions import ForgetSpec
from sfd_core.config import SFDConfig
from sfd_core.denoisers import Denoiser
from sfd_core.evaluation.report import evaluate_job
from sfd_core.loading import load_teacher
from sfd_core.presets import MODEL_PRESETS, WARM_START_SHARE, default_steps, job_defaults
from sfd_core.teachers import Teacher
from sfd_core.text.evaluate import one_step_images, teacher_images
from sfd_core.text.shapes_eval import ShapesEvaluator
from sfd_core.trainer import SFDTrainer, cosine_factor
from sfd_core.warmup import RegressionLoss

RESULTS = Path(__file__).parent / "results"
PAIRS = {"digits": ("0", "1"), "shapes": ("red", "blue")}
EVAL_PER_CLASS = {"digits": 100, "shapes": 50}
KEYS = ("forget_rate", "surrogate_rate", "retained_accuracy", "retained_fd", "diversity")

# Named settings: SFDConfig overrides. "default" is whatever the engine's defaults are now; the
# others name every value they change from the defaults of the sweep they came from (OLD: lr
# 1e-4, no regression; NEW: the defaults that sweep chose; both without the warm start's
# momentum, which came later), so their meaning stays put when the defaults move.
NO_MOMENTUM = {"warmup_adam_beta1": 0.0}
LR_1E4 = {"lr_generator": 1e-4, "lr_fake_score": 1e-4, "warmup_lr": 1e-4}
LR_3E4 = {"lr_generator": 3e-4, "lr_fake_score": 3e-4, "warmup_lr": 3e-4}
OLD = LR_1E4 | {"regression_weight": 0.0, **NO_MOMENTUM}
NEW = LR_3E4 | {"regression_weight": 1.0, **NO_MOMENTUM}
MOMENTUM = {"warmup_adam_beta1": 0.9}
REGRESSION_ONLY = NEW | {"warmup_steps": 2000, "warmup_pairs": 8192}
WARM1000_PAIRS4096 = NEW | {"warmup_steps": 1000, "warmup_pairs": 4096}
# The digits and shapes defaults at steps 400 before the warm start took momentum
WARM360 = NEW | {"warmup_steps": 360, "warmup_pairs": 2048}
WARM300_SHAPES = NEW | LR_1E4 | {"warmup_steps": 300}
# The shapes preset at 400 steps before its 780-step default: 380 + 20, the warm start at 3e-4
WARM380_SHAPES = WARM300_SHAPES | MOMENTUM | {"warmup_lr": 3e-4, "warmup_steps": 380}
# The named settings start from the model presets they were measured on (sfd_core.job's before
# 2026-12-08), "default" from today's.
SWEPT_PRESETS = {
    "digits": {"warmup_pairs": 2048, "warmup_forget_share": 0.5},
    "shapes": {"warmup_pairs": 1024},
}
SETTINGS: dict[str, dict[str, Any]] = {
    "default": {},
    # The defaults before the long warm start (SFD's loss from the first step)
    "sfd_from_step_one": NEW | {"warmup_steps": 0, "warmup_pairs": 1024},
    "old_default": OLD,
    "lr_fake_3x": OLD | {"lr_fake_score": 3e-4},
    "reg1": OLD | {"regression_weight": 1.0},
    "reg3": OLD | {"regression_weight": 3.0},
    "reg1_fake3x": OLD | {"regression_weight": 1.0, "lr_fake_score": 3e-4},
    "reg1_lr3e-4": NEW,
    "reg1_lr3e-4_fake1e-3": NEW | {"lr_fake_score": 1e-3},
    "warm100": OLD | {"warmup_steps": 100},
    "reg3_lr3e-4": NEW | {"regression_weight": 3.0},
    "warm100_lr3e-4": NEW | {"warmup_steps": 100},
    "pairs4096_lr3e-4": NEW | {"warmup_pairs": 4096},
    "alpha_1.0_lr3e-4": NEW | {"alpha": 1.0},
    "ema_0.99_lr3e-4": NEW | {"ema_decay": 0.99},
    "batch_64_lr3e-4": NEW | {"batch_size": 64},
    "tmax_980_lr3e-4": NEW | {"tmax": 980},
    "sigma_init_1.5_lr3e-4": NEW | {"sigma_init": 1.5},
    "cosine0.1_lr3e-4": NEW | {"lr_final": 0.1},
    "cosine0.1_lr1e-3": NEW | {"lr_generator": 1e-3, "lr_fake_score": 1e-3, "lr_final": 0.1},
    "fake2_lr3e-4": NEW | {"fake_score_steps": 2},
    "fake3_lr3e-4": NEW | {"fake_score_steps": 3},
    "fake2_alpha_1.0_lr3e-4": NEW | {"fake_score_steps": 2, "alpha": 1.0},
    "no_clip_lr3e-4": NEW | {"grad_clip": 1e6},
    # The warm start's regression alone, never SFD's loss (run with --steps 2000 / 400): how
    # close can the one-step network come to the teacher at all?
    "regression_only_pairs8192": REGRESSION_ONLY,
    # A long warm start (regression only; run with --steps 1400 for 400 SFD steps after it)
    "warm1000_pairs4096": WARM1000_PAIRS4096,
    "warm1000_pairs8192": NEW | {"warmup_steps": 1000, "warmup_pairs": 8192},
    "warm2000_pairs4096": NEW | {"warmup_steps": 2000, "warmup_pairs": 4096},
    "warm360_pairs4096": NEW | {"warmup_steps": 360, "warmup_pairs": 4096},
    "warm360_pairs2048": WARM360,
    "warm360_fake2": WARM360 | {"fake_score_steps": 2},
    # Adam's momentum (beta1 0.9) in the warm start, and in both phases for both networks
    "warm_beta0.9": WARM360 | MOMENTUM,
    "warm_beta0.9_lr1e-3": WARM360 | MOMENTUM | {"warmup_lr": 1e-3},
    "regression_only_beta0.9_lr1e-3": REGRESSION_ONLY | MOMENTUM | {"warmup_lr": 1e-3},
    # the warm start at another rate, SFD at the default 3e-4
    "warm_lr1e-3": WARM360 | {"warmup_lr": 1e-3},
    "warm_lr1e-4": WARM360 | {"warmup_lr": 1e-4},
    "warm380_beta0.9": WARM360 | MOMENTUM | {"warmup_steps": 380},
    "warm380_beta0.9_pairs1024": WARM360 | MOMENTUM | {"warmup_steps": 380, "warmup_pairs": 1024},
    "warm380_beta0.9_pairs4096": WARM360 | MOMENTUM | {"warmup_steps": 380, "warmup_pairs": 4096},
    "warm360_beta0.9_all": WARM360 | {"adam_beta1": 0.9},
    "regression_only_beta0.9": REGRESSION_ONLY | MOMENTUM,  # run with --steps 2000
    "warm2000_pairs8192_beta0.9": REGRESSION_ONLY | MOMENTUM,  # run with --steps 2100
    "warm1000_pairs4096_beta0.9": WARM1000_PAIRS4096 | MOMENTUM,  # run with --steps 1100
    # The share of the warm start's pairs for the forget condition (0.5 before the field)
    "warm380_forget0.1": WARM360 | MOMENTUM | {"warmup_steps": 380, "warmup_forget_share": 0.1},
    "warm380_forget0.25": WARM360 | MOMENTUM | {"warmup_steps": 380, "warmup_forget_share": 0.25},
    "warm2000_pairs8192_forget0.25": REGRESSION_ONLY | MOMENTUM | {"warmup_forget_share": 0.25},
    # shapes: its preset's learning rates (1e-4) kept
    "reg3_lr1e-4": NEW | LR_1E4 | {"regression_weight": 3.0},
    "warm50_lr1e-4": NEW | LR_1E4 | {"warmup_steps": 50},
    "warm300_lr1e-4": WARM300_SHAPES,
    "warm300_lr3e-4": NEW | {"warmup_steps": 300},
    "warm350_lr1e-4": NEW | LR_1E4 | {"warmup_steps": 350},
    "warm300_beta0.9": WARM300_SHAPES | MOMENTUM,
    "warm300_beta0.9_lr3e-4": WARM300_SHAPES | MOMENTUM | {"warmup_lr": 3e-4},
    "warm360_beta0.9_lr3e-4": WARM300_SHAPES | MOMENTUM | {"warmup_lr": 3e-4, "warmup_steps": 360},
    "warm380_beta0.9_lr3e-4": WARM380_SHAPES,
    "warm380_beta0.9_lr3e-4_pairs2048": WARM380_SHAPES | {"warmup_pairs": 2048},
    "warm380_beta0.9_lr3e-4_pairs4096": WARM380_SHAPES | {"warmup_pairs": 4096},
    "warm380_beta0.9_lr3e-4_forget0.25": WARM380_SHAPES | {"warmup_forget_share": 0.25},
    "warm760_beta0.9_lr3e-4_pairs2048": WARM380_SHAPES
    | {"warmup_steps": 760, "warmup_pairs": 2048},
    "warm300_lr3e-4_beta0.9": NEW | MOMENTUM | {"warmup_steps": 300},  # SFD at 3e-4 too
    "warm380_lr1e-4_beta0.9": WARM300_SHAPES | MOMENTUM | {"warmup_steps": 380},
    "warm300_beta0.9_reg3": WARM300_SHAPES | MOMENTUM | {"regression_weight": 3.0},
    "warm300_beta0.9_fake3e-4": WARM300_SHAPES | MOMENTUM | {"lr_fake_score": 3e-4},
    "warm300_lr1e-4_reg3": NEW | LR_1E4 | {"warmup_steps": 300, "regression_weight": 3.0},
    "regression_only_lr3e-4": NEW | {"warmup_steps": 400},
    "sigma_init_1.5_lr1e-4": NEW | LR_1E4 | {"sigma_init": 1.5},
    "sigma_init_1.0_lr1e-4": NEW | LR_1E4 | {"sigma_init": 1.0},
}
# Few-step generators (bench/few_step.py) at the defaults: their chains' noise levels (the first
# is sigma_init).
CHAINS: dict[str, tuple[float, ...]] = {
    "two_step_0.8": (2.5, 0.8),
    "three_step_1.2_0.5": (2.5, 1.2, 0.5),
}
SETTINGS |= {name: {} for name in CHAINS}
# Changes at the switch from the warm start to SFD, which SFDConfig has no field for: the SFD
# phase's learning rates and batch, and fake-score steps alone before its first generator step.
# Each: (its SFDConfig overrides, its changes at the switch).
SWITCHED: dict[str, tuple[dict[str, Any], dict[str, float]]] = {
    "sfd_lr1e-4_generator": (WARM360, {"lr_generator": 1e-4}),
    "sfd_lr1e-4_both": (WARM360, {"lr_generator": 1e-4, "lr_fake_score": 1e-4}),
    "sfd_fake_only40": (WARM360, {"fake_score_only_steps": 40}),
    "sfd_batch64": (WARM360, {"batch_size": 64}),
    "sfd_batch128": (WARM360, {"batch_size": 128}),
}
SETTINGS |= {name: overrides for name, (overrides, _) in SWITCHED.items()}
SWITCH = {name: change for name, (_, change) in SWITCHED.items()}
# Changes to the warm start alone, which SFDConfig has no field for (SFD after it runs as
# configured): a cosine decay of the generator's rate to ``lr_final`` x over the warm start, and
# a pseudo-Huber regression loss ``sqrt(|d|^2 + c^2) - c`` (iCT) instead of ``|d|^2``.
WARM_CHANGED: dict[str, tuple[dict[str, Any], dict[str, float]]] = {
    "warm_cosine0.05": (WARM360, {"lr_final": 0.05}),
    "warm_huber0.03": (WARM360, {"huber": 0.03}),
}
SETTINGS |= {name: overrides for name, (overrides, _) in WARM_CHANGED.items()}
WARM = {name: change for name, (_, change) in WARM_CHANGED.items()}


class PseudoHuberRegression(RegressionLoss):
    """The warm start's regression with iCT's pseudo-Huber distance, one loss per sample."""

    def __init__(self, one_step, c: float) -> None:
        super().__init__(one_step)
        self.c = c

    def __call__(self, generator: Denoiser, pairs, index: torch.Tensor) -> torch.Tensor:
        squared = super().__call__(generator, pairs, index)
        return (squared + self.c**2).sqrt() - self.c


def during_warm_start(trainer: SFDTrainer, change: dict[str, float]) -> None:
    """Apply ``change`` (a ``WARM`` entry) before each warm-start step; undo it at the switch."""
    cfg = trainer.config
    warm = trainer.step < cfg.warmup_steps
    factor = 1.0
    if warm and "lr_final" in change:
        factor = cosine_factor(trainer.step / max(1, cfg.warmup_steps - 1), change["lr_final"])
    for group in trainer.opt_generator.param_groups:
        group["lr"] = (cfg.warmup_lr if warm else cfg.lr_generator) * factor
    if "huber" in change and trainer.step in (0, cfg.warmup_steps):
        trainer.regression = (
            PseudoHuberRegression(trainer._one_step, change["huber"])
            if warm
            else RegressionLoss(trainer._one_step)
        )


def at_switch(trainer: SFDTrainer, change: dict[str, float]) -> None:
    """Apply ``change`` (a ``SWITCH`` entry) as SFD takes over from the warm start."""
    for key, optimizer in (
        ("lr_generator", trainer.opt_generator),
        ("lr_fake_score", trainer.opt_fake),
    ):
        for group in optimizer.param_groups:
            group["lr"] = change.get(key, group["lr"])
    trainer.batch = int(change.get("batch_size", trainer.batch))
    trainer.fake_score.train()
    trainer.generator.train()
    for _ in range(int(change.get("fake_score_only_steps", 0))):
        trainer._fake_score_step()


class Scorer:
    """Scores a generator against the teacher with the job report's metrics."""

    def __init__(self, model: str, teacher: Teacher, plan, spec, config: SFDConfig) -> None:
        self.model, self.teacher, self.plan, self.spec = model, teacher, plan, spec
        self.config = config
        self.per_class = EVAL_PER_CLASS[model]
        if model == "shapes":
            table = teacher.prompt_table
            ids = [int(i) for i in plan.forget_ids] + [int(i) for i in plan.retain_ids]
            self.cond = torch.tensor(ids).repeat_interleave(self.per_class)
            self.prompts = [table.prompts[i] for i in self.cond.tolist()]
            self.evaluator = ShapesEvaluator()
            self.kwargs = {"surrogate_for": table.surrogate_for, "concepts": list(table.concepts)}
            self.teacher_metrics = self._shapes(teacher_images(teacher, self.cond, 1))
        else:
            self.teacher_metrics = self._digits(teacher.denoiser)["teacher"]

    def _shapes(self, images: torch.Tensor) -> dict[str, Any]:
        return self.evaluator.score(images, self.prompts, **self.kwargs)

    def _digits(self, generator: Denoiser) -> dict[str, Any]:
        plan = self.plan
        surrogate_for = {
            int(f): int(s[0]) for f, s in zip(plan.forget_ids, plan.surrogate_ids, strict=True)
        }
        return evaluate_job(
            self.teacher,
            generator,
            self.plan,
            self.spec,
            self.config,
            self.per_class,
            model_name="digits",
            surrogate_for=surrogate_for,
        ).report

    @torch.no_grad()
    def __call__(self, generator: Denoiser) -> dict[str, float]:
        if self.model == "shapes":
            images = one_step_images(self.teacher, generator, self.cond, self.config.sigma_init, 0)
            report = self._shapes(images)
        else:
            report = self._digits(generator)
        return {key: round(float(report[key]), 4) for key in KEYS}


def run_setting(
    model: str, name: str, steps: int, checkpoints: list[int], seed: int, raw: bool = False
) -> Iterator[dict]:
    """Train one setting to ``steps``, scoring the EMA generator at each checkpoint (and with
    ``raw`` the trained generator itself, as ``raw_*``); yields the result so far after each (an
    interrupted run keeps its checkpoints)."""
    teacher = load_teacher(model)
    spec = ForgetSpec.create(*PAIRS[model])
    plan = teacher.plan(spec)
    overrides = SETTINGS[name]  # over what a job on this model starts from
    defaults = job_defaults(model, steps)
    if name != "default":
        defaults |= SWEPT_PRESETS.get(model, {})
    config = SFDConfig.from_overrides(overrides, **defaults)
    teacher.configure(config)
    scorer = Scorer(model, teacher, plan, spec, config)
    chain = CHAINS.get(name)
    if chain is None:
        trainer = SFDTrainer(teacher.denoiser, plan, config, teacher.sample_shape, seed=seed)
    else:
        trainer = FewStepTrainer(
            teacher.denoiser, plan, config, teacher.sample_shape, seed=seed, sigmas=chain
        )
    cpu = wall = 0.0
    curve = []
    for target in sorted({c for c in checkpoints if c <= steps} | {steps}):
        cpu0, wall0 = time.process_time(), time.monotonic()
        while trainer.step < target:
            if name in SWITCH and trainer.step == config.warmup_steps:
                at_switch(trainer, SWITCH[name])
            if name in WARM and trainer.step <= config.warmup_steps:
                during_warm_start(trainer, WARM[name])
            trainer.train_step()
        cpu += time.process_time() - cpu0
        wall += time.monotonic() - wall0
        point = {"step": target, "cpu_seconds": round(cpu, 1), "wall_seconds": round(wall, 1)}
        networks = {"": trainer.ema} | ({"raw_": trainer.generator} if raw else {})
        for prefix, network in networks.items():
            scored = network if chain is None else ChainGenerator(network, chain)
            point |= {prefix + key: value for key, value in scorer(scored).items()}
        curve.append(point)
        print(json.dumps({"setting": name, **curve[-1]}), flush=True)
        yield {
            "model": model,
            "setting": name,
            "overrides": SETTINGS[name],
            "at_switch": SWITCH.get(name, {}),
            "during_warm_start": WARM.get(name, {}),
            "sampling_sigmas": list(chain or [config.sigma_init]),
            "config": config.to_dict(),
            "seed": seed,
            "threads": torch.get_num_threads(),
            "teacher": {key: round(float(scorer.teacher_metrics[key]), 4) for key in KEYS},
            "curve": curve,
        }


def _changed(config: dict[str, Any]) -> dict[str, Any]:
    """The values of a run's config that differ from the engine's defaults now."""
    # Runs from before a field existed ran with what it replaced: the warm start on SFD's
    # optimiser, half of its pairs for the forget condition.
    before_fields = {
        "warmup_lr": config["lr_generator"],
        "warmup_adam_beta1": config["adam_beta1"],
        "warmup_forget_share": 0.5,
    }
    config = before_fields | config
    defaults = SFDConfig().to_dict()
    return {k: v for k, v in config.items() if k != "steps" and v != defaults.get(k)}


def _differs(result: dict) -> dict[str, Any]:
    """What the table names as the run's changes: its config's, and any to the warm start or
    at the switch."""
    extra = {key: result.get(key) for key in ("during_warm_start", "at_switch")}
    return _changed(result["config"]) | {key: value for key, value in extra.items() if value}


def _final(result: dict) -> dict:
    return result["curve"][-1]


def _label(result: dict) -> str:
    """The setting's name, and its seed where it is not the sweep's seed 0."""
    seed = result["seed"]
    return result["setting"] if seed == 0 else f"{result['setting']} (seed {seed})"


def write_report(out: Path) -> None:
    """Rebuild ``sweep.md`` and one PNG per model from every stored setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [
        "# SFD settings sweep",
        "",
        "Produced by `bench/sweep.py` (see its docstring). Each row: one setting, seed 0 unless "
        "named, one thread; its values that differ from the engine's defaults now (the full "
        "config is in its JSON); figures of the EMA generator at the last checkpoint. FD ratio "
        "and diversity ratio are over the teacher's (18-step Heun, same evaluator and seeds). "
        "CPU s: this process's training CPU seconds (evaluation excluded; on a busy shared "
        "machine CPU seconds run up to 2x a quiet machine's). The plots show every checkpoint.",
    ]
    for model_dir in sorted((out / "sweep").glob("*")):
        results = [json.loads(p.read_text()) for p in sorted(model_dir.glob("*.json"))]
        if not results:
            continue
        model = model_dir.name
        teacher = results[0]["teacher"]
        lines += [
            "",
            f"## {model} (forget {' -> '.join(PAIRS[model])})",
            "",
            f"Teacher: retained FD {teacher['retained_fd']:.2f}, diversity "
            f"{teacher['diversity']:.3f}, retained accuracy {teacher['retained_accuracy']:.3f}. "
            f"A job on this model runs {default_steps(model)} steps unless told otherwise, "
            f"starts from the defaults with `{json.dumps(MODEL_PRESETS[model])}` (fewer pairs "
            "for a shorter job) and spends a share of "
            f"{WARM_START_SHARE.get(model, 0.0)} of its steps on the warm start "
            "(`sfd_core/presets.py`). Named settings start from the presets they were measured on "
            f"(`{json.dumps(SWEPT_PRESETS.get(model, {}))}` over these).",
            "",
            "| setting | differs from the defaults | steps | CPU s | forget | surrogate | "
            "retained acc | retained FD | FD ratio | diversity ratio |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        results.sort(key=lambda r: _final(r)["retained_fd"])
        for r in results:
            f = _final(r)
            lines.append(
                f"| {_label(r)} | `{json.dumps(_differs(r))}` | {f['step']} | "
                f"{f['cpu_seconds']:.0f} | {f['forget_rate']:.3f} | {f['surrogate_rate']:.3f} | "
                f"{f['retained_accuracy']:.3f} | {f['retained_fd']:.2f} | "
                f"{f['retained_fd'] / teacher['retained_fd']:.2f} | "
                f"{f['diversity'] / teacher['diversity']:.3f} |"
            )
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for r in results:
            x = [p["cpu_seconds"] for p in r["curve"]]
            axes[0].plot(
                x,
                [p["retained_fd"] / teacher["retained_fd"] for p in r["curve"]],
                marker="o",
                label=_label(r),
            )
            axes[1].plot(
                x,
                [p["diversity"] / teacher["diversity"] for p in r["curve"]],
                marker="o",
                label=_label(r),
            )
        axes[0].set(xlabel="training CPU seconds", ylabel="retained FD / teacher's", yscale="log")
        axes[1].set(xlabel="training CPU seconds", ylabel="diversity / teacher's")
        axes[1].legend(fontsize=7, ncol=2)
        fig.suptitle(f"{model}: SFD settings sweep")
        fig.tight_layout()
        fig.savefig(out / f"sweep-{model}.png", dpi=90)
        plt.close(fig)
        lines += ["", f"![{model} sweep](sweep-{model}.png)"]
    (out / "sweep.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(PAIRS), default="digits")
    parser.add_argument("--settings", default="default", help=f"comma list of {sorted(SETTINGS)}")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--checkpoints", default="50,100,200,400,800")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--raw", action="store_true", help="also score the trained generator, not only its EMA"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.report_only:
        checkpoints = [int(c) for c in args.checkpoints.split(",")]
        folder = args.out / "sweep" / args.model
        folder.mkdir(parents=True, exist_ok=True)
        for name in args.settings.split(","):
            if name not in SETTINGS:
                parser.error(f"unknown setting {name!r}")
            for result in run_setting(
                args.model, name, args.steps, checkpoints, args.seed, args.raw
            ):
                stem = name if args.seed == 0 else f"{name}_seed{args.seed}"
                (folder / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    write_report(args.out)


if __name__ == "__main__":
    main()
