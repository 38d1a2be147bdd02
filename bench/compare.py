"""Forget digit 0 -> 1 with SFD and every baseline on the bundled teacher; table + plot.

    .venv/bin/python bench/compare.py [--budget-seconds 60] [--retrain-seconds 180]
        [--sfd-steps N] [--eval-per-class 100] [--seed 0] [--out bench/results] [--smoke]
        [--markdown-only] [--sfd-only]

SFD runs through the real engine (``sfd_core.job.run_unlearning``, engine defaults) and is
scored by the engine's own report (one-step generator, fixed eval seed). Every baseline gets the
same teacher, forget plan, seed and CPU-time budget (process CPU seconds, so other jobs on the
shared machine do not shrink it), and is scored with the teacher's 18-step Heun
sampler on the same initial noise as the teacher's row. Writes ``compare.md``, ``compare.png``
and ``compare.json`` into ``--out``. ``--smoke`` runs every method for 2 steps at batch 8-16
on tiny samples. ``--sfd-only`` reruns the teacher and SFD rows and keeps the baselines' rows of
the saved ``compare.json`` (for a change of the engine's defaults).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from sfd_core.baselines import BASELINES, Budget, ReplayConfig
from sfd_core.conditions import ForgetPlan, ForgetSpec
from sfd_core.denoisers import Denoiser
from sfd_core.evaluation import EVALUATORS, forgetting_metrics
from sfd_core.evaluation.report import BATCH, EVAL_SEED, TEACHER_STEPS
from sfd_core.job import UnlearnRequest, run_unlearning
from sfd_core.loading import load_teacher
from sfd_core.presets import default_steps
from sfd_core.progress import ProgressEvent
from sfd_core.sampling import heun_nfe, heun_sample
from sfd_core.teachers import ClassConditionalTeacher

UNSAFE, SURROGATE = "0", "1"
SMOKE_REPLAY = ReplayConfig(per_class=4, heun_steps=4)
SMOKE_OPTIONS: dict[str, dict[str, Any]] = {
    "ESD": {"replay": SMOKE_REPLAY, "batch_size": 16},
    "Selective Amnesia": {"replay": SMOKE_REPLAY, "batch_size": 16, "fisher_samples": 4},
    "SalUn": {"replay": SMOKE_REPLAY, "batch_size": 16, "mask_samples": 16},
    "Concept Ablation": {"replay": SMOKE_REPLAY, "batch_size": 16},
}
METRICS = ("forget_rate", "surrogate_rate", "retained_accuracy", "retained_fd", "diversity")
LOWER_IS_BETTER = {"forget_rate", "retained_fd", "unlearn_cpu_seconds"}
WHY_SFD_LOSES = {
    "forget_rate": "the EMA generator still draws a few unsafe samples after the engine's "
    "default steps; editing the label directly (embedding swap) removes them at once.",
    "surrogate_rate": "training the unsafe label on the surrogate's own samples, or handing it "
    "the surrogate's embedding, hits the surrogate more exactly than a distilled generator.",
    "retained_accuracy": "the one-step generator draws a few ambiguous retained samples that a "
    "35-step sampler of a lightly fine-tuned teacher does not.",
    "retained_fd": "SFD replaces the 35-NFE sampler by one network evaluation, and the distilled "
    "generator's retained classes sit further from the data than the teacher's: a cost of "
    "one-step distillation, not of forgetting. The baselines keep the teacher's sampler and "
    "barely move the retained classes (replay and EWC in Selective Amnesia, the retain term and "
    "mask in SalUn, no training at all in the embedding swap).",
    "diversity": "the one-step generator's within-class spread is narrower than the teacher "
    "sampler's (SiD's distillation is mode seeking); the baselines keep the multi-step sampler. "
    "(Above 1 is not better: ESD and Concept Ablation exceed the real spread because their "
    "retained samples degrade.)",
    "unlearn_cpu_seconds": "an SFD iteration runs the generator twice and trains a fake score "
    "besides (several network passes per fine-tuning step's one), for the engine's default "
    "iterations; the baselines were stopped at their CPU budget and had already forgotten. "
    "The embedding swap costs nothing.",
}


def eval_labels(n_per_class: int, plan: ForgetPlan) -> torch.Tensor:
    return torch.tensor(sorted(plan.names)).repeat_interleave(n_per_class)


@torch.no_grad()
def heun_eval(
    model: Denoiser, teacher: ClassConditionalTeacher, labels: torch.Tensor
) -> tuple[torch.Tensor, float]:
    """18-step Heun samples on the teacher row's noise (``EVAL_SEED + 1``) and seconds taken."""
    generator = torch.Generator().manual_seed(EVAL_SEED + 1)
    noise = torch.randn((len(labels), *teacher.sample_shape), generator=generator)
    started = time.perf_counter()
    chunks = [
        heun_sample(model, c, teacher.sample_shape, steps=TEACHER_STEPS, noise=z)
        for z, c in zip(noise.split(BATCH), labels.split(BATCH), strict=True)
    ]
    return torch.cat(chunks), time.perf_counter() - started


def run_sfd(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The SFD row and the teacher row, both from the engine's own job report."""
    request = UnlearnRequest(
        model="digits",
        unsafe=[UNSAFE],
        surrogate=SURROGATE,
        steps=args.sfd_steps,
        seed=args.seed,
        hyperparameters={"batch_size": 8} if args.smoke else {},
        eval_samples_per_class=args.eval_per_class,
        probes="off",  # attacks: bench/robustness.py, whose results fill the ASR columns
    )
    cpu_started, cpu_trained = time.process_time(), 0.0

    def progress(event: ProgressEvent) -> None:
        nonlocal cpu_trained
        if event.phase == "train":
            cpu_trained = time.process_time() - cpu_started

    with tempfile.TemporaryDirectory() as out:
        report = run_unlearning(request, Path(out), on_progress=progress).report
    print(f"SFD: {report['wall_seconds']:.0f} s wall, {cpu_trained:.0f} s CPU to unlearn")
    sfd = {
        "method": "SFD (engine)",
        **{k: report[k] for k in METRICS},
        "unlearn_seconds": report["wall_seconds"],
        "unlearn_cpu_seconds": round(cpu_trained, 3),
        "steps": report["steps"],
        "nfe": report["nfe_generator"],
        "images_per_second": report["generator_images_per_second"],
    }
    t = report["teacher"]
    teacher = {
        "method": "Teacher (no unlearning)",
        **{k: t[k] for k in METRICS},
        "unlearn_seconds": 0.0,
        "unlearn_cpu_seconds": 0.0,
        "steps": 0,
        "nfe": t["nfe"],
        "images_per_second": t["images_per_second"],
    }
    return sfd, teacher


def run_baseline(
    name: str,
    teacher: ClassConditionalTeacher,
    plan: ForgetPlan,
    budget: Budget,
    options: dict[str, Any],
    args: argparse.Namespace,
    evaluator,
) -> dict[str, Any]:
    steps = 0

    def progress(event: ProgressEvent) -> None:
        nonlocal steps
        steps = event.step

    started, cpu_started = time.monotonic(), time.process_time()
    model = BASELINES[name](teacher, plan, budget, seed=args.seed, progress=progress, **options)
    seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu_started
    labels = eval_labels(args.eval_per_class, plan)
    images, sample_seconds = heun_eval(model, teacher, labels)
    forget_ids = [int(i) for i in plan.forget_ids]
    retain_ids = [int(i) for i in plan.retain_ids]
    surrogate_for = {
        int(f): int(s[0]) for f, s in zip(plan.forget_ids, plan.surrogate_ids, strict=True)
    }
    metrics = forgetting_metrics(evaluator, images, labels, forget_ids, surrogate_for, retain_ids)
    print(f"{name}: {seconds:.0f} s wall, {cpu_seconds:.0f} s CPU, {steps} steps")
    return {
        "method": name,
        **{k: metrics[k] for k in METRICS},
        "unlearn_seconds": round(seconds, 3),
        "unlearn_cpu_seconds": round(cpu_seconds, 3),
        "steps": steps,
        "nfe": heun_nfe(TEACHER_STEPS),
        "images_per_second": round(len(labels) / sample_seconds, 2),
    }


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _closer(key: str, value: float, reference: float) -> bool:
    """Whether ``value`` beats ``reference`` on ``key`` (diversity: closer to the data's 1)."""
    if key == "diversity":
        return abs(value - 1) < abs(reference - 1)
    return value < reference if key in LOWER_IS_BETTER else value > reference


def sfd_losses(rows: list[dict[str, Any]]) -> list[str]:
    """One line per metric on which some baseline beats SFD, with the reason."""
    sfd = next(r for r in rows if r["method"].startswith("SFD"))
    baselines = [r for r in rows if r is not sfd and not r["method"].startswith("Teacher")]
    lines = []
    for key in (*METRICS, "unlearn_cpu_seconds"):
        better = [r for r in baselines if _closer(key, r[key], sfd[key])]
        if better:
            who = ", ".join(f"{r['method']} {_fmt(r[key])}" for r in better)
            lines.append(f"- **{key}** (SFD {_fmt(sfd[key])}; better: {who}): {WHY_SFD_LOSES[key]}")
    return lines


# bench/robustness.py's result file for each row of this table (same seed and CPU budgets).
ROBUSTNESS_KEYS = {
    "Teacher (no unlearning)": "teacher",
    "SFD (engine)": "sfd",
    "Embedding swap": "swap",
    "ESD": "esd",
    "Selective Amnesia": "sa",
    "SalUn": "salun",
    "Concept Ablation": "ca",
    "Retrain": "retrain",
}
EXTRA_ROBUSTNESS_ROWS = {"hardened": "SFD, hardened", "reference": "Reference (never saw a 0)"}


def robustness_columns(out: Path) -> dict[str, tuple[str, str]]:
    """Worst-start conditioning ASR and relearning steps-to-half per robustness result file."""
    columns = {}
    for path in sorted((out / "robustness" / "digits").glob("*.json")):
        robustness = json.loads(path.read_text())["robustness"]
        worst = max(a["asr"] for a in robustness["attacks"])
        half = (robustness.get("relearning") or {}).get("steps_to_half")
        columns[path.stem] = (f"{100 * worst:.1f}%", "never" if half is None else f"{half:.1f}")
    return columns


def write_markdown(rows: list[dict[str, Any]], path: Path, settings: dict[str, Any]) -> None:
    robustness = robustness_columns(path.parent)
    header = (
        "| method | forget rate | surrogate rate | retained accuracy | retained FD | diversity "
        "| unlearn wall s | unlearn CPU s | steps | sampling NFE | images/s "
        "| worst attack ASR | relearn steps to half |\n" + "|---" * 13 + "|"
    )
    body = [
        f"| {r['method']} | {_fmt(r['forget_rate'])} | {_fmt(r['surrogate_rate'])} "
        f"| {_fmt(r['retained_accuracy'])} | {_fmt(r['retained_fd'], 2)} | {_fmt(r['diversity'])} "
        f"| {_fmt(r['unlearn_seconds'], 1)} | {_fmt(r['unlearn_cpu_seconds'], 1)} "
        f"| {r['steps']} | {r['nfe']} "
        f"| {_fmt(r['images_per_second'], 0)} "
        f"| {' | '.join(robustness.get(ROBUSTNESS_KEYS.get(r['method'], ''), ('-', '-')))} |"
        for r in rows
    ]
    body += [
        f"| {label} | - | - | - | - | - | - | - | - | 1 | - | {' | '.join(robustness[key])} |"
        for key, label in EXTRA_ROBUSTNESS_ROWS.items()
        if key in robustness
    ]
    losses = sfd_losses(rows) or ["- nowhere in this run."]
    text = "\n".join(
        [
            f"# Forget {UNSAFE} -> {SURROGATE} on the digits teacher: SFD vs baselines",
            "",
            "Produced by `bench/compare.py` "
            + (" ".join(settings["argv"]) or "(defaults)")
            + ". Settings: "
            + json.dumps({k: v for k, v in settings.items() if k != "argv"})
            + ".",
            "",
            "Forget rate: share of samples for the unsafe class recognised as it (lower is "
            "better). Retained FD: Frechet distance of the other classes' samples to real data in "
            "the evaluator's feature space (lower is better). Diversity: within-class spread / "
            "real spread. SFD is the engine's one-step generator (1 NFE); the teacher and all "
            "baselines use the 18-step Heun sampler (35 NFE) on the same noise. Unlearn time "
            "(wall, and this process's CPU seconds, which other jobs on the shared 2-core "
            "machine do not inflate) includes generating replay data and masks/Fisher; the "
            "baselines' budget is in CPU seconds; images/s is sampling speed (wall). The last "
            "two columns come from `bench/robustness.py` (its `robustness/digits/*.json`, same "
            "seed and CPU budgets, retrained there): the highest conditioning-attack success "
            "over the start points (one-step models: 300 steps at batch 64; multi-step models "
            "through Heun-6: 100 steps at batch 32), and the fine-tuning steps on 16 real zeros "
            "until the rate of zeros reaches half the teacher's. Details: "
            "[robustness.md](robustness.md).",
            "",
            header,
            *body,
            "",
            "## Where SFD loses, and why",
            "",
            *losses,
            "",
            "![forget rate vs retained FD](compare.png)",
            "",
        ]
    )
    path.write_text(text)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Forget rate vs retained FD; colour = unlearning CPU time, marker = method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=(8, 5))
    seconds = [max(r["unlearn_cpu_seconds"], 0.1) for r in rows]
    norm = LogNorm(vmin=min(seconds), vmax=max(max(seconds), 1.0))
    for r, s, marker in zip(rows, seconds, "*oDsv^P<>X", strict=False):
        ax.scatter(
            r["retained_fd"],
            r["forget_rate"],
            c=[s],
            norm=norm,
            cmap="viridis",
            marker=marker,
            s=260 if r["nfe"] == 1 else 130,
            edgecolors="black",
            label=f"{r['method']} ({r['nfe']} NFE, {r['unlearn_cpu_seconds']:.0f} CPU s)",
        )
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=ax)
    bar.set_label("unlearning CPU time (s, log scale)")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("retained-class Frechet distance to real data (log, lower is better)")
    ax.set_ylabel(f"forget rate: class {UNSAFE} still drawn (lower is better)")
    ax.set_title(f"Forget {UNSAFE} -> {SURROGATE} on the digits teacher")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-seconds", type=float, default=60.0)
    parser.add_argument("--retrain-seconds", type=float, default=180.0)
    parser.add_argument("--sfd-steps", type=int, default=default_steps("digits"))
    parser.add_argument("--eval-per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--smoke", action="store_true", help="2 steps per method, tiny samples")
    parser.add_argument(
        "--markdown-only",
        action="store_true",
        help="rewrite compare.md from compare.json and the robustness results, running nothing",
    )
    parser.add_argument(
        "--sfd-only",
        action="store_true",
        help="rerun the teacher and SFD rows; keep the baselines' rows of compare.json",
    )
    args = parser.parse_args()
    if args.markdown_only:
        saved = json.loads((args.out / "compare.json").read_text())
        write_markdown(saved["rows"], args.out / "compare.md", saved["settings"])
        print(f"wrote {args.out}/compare.md")
        return
    torch.set_num_threads(1)
    if args.smoke:
        args.sfd_steps, args.eval_per_class = 2, 8
    args.out.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    teacher = load_teacher("digits")
    plan = teacher.plan(ForgetSpec.create(UNSAFE, SURROGATE))
    evaluator = EVALUATORS["digits"]()
    sfd, teacher_row = run_sfd(args)
    rows = [teacher_row, sfd]
    if args.sfd_only:
        saved = json.loads((args.out / "compare.json").read_text())["rows"]
        rerun = {sfd["method"], teacher_row["method"]}
        rows += [row for row in saved if row["method"] not in rerun]
    for name in [] if args.sfd_only else BASELINES:
        if args.smoke:
            budget, options = Budget(steps=2), SMOKE_OPTIONS.get(name, {})
        else:
            seconds = args.retrain_seconds if name == "Retrain" else args.budget_seconds
            budget, options = Budget(seconds=seconds, clock=time.process_time), {}
        rows.append(run_baseline(name, teacher, plan, budget, options, args, evaluator))

    settings = {
        "argv": sys.argv[1:],
        "seed": args.seed,
        "sfd_steps": args.sfd_steps,
        "budget_seconds": None if args.smoke else args.budget_seconds,
        "retrain_seconds": None if args.smoke else args.retrain_seconds,
        "eval_per_class": args.eval_per_class,
        "threads": 1,
        "total_seconds": round(time.monotonic() - started, 1),
    }
    write_markdown(rows, args.out / "compare.md", settings)
    plot(rows, args.out / "compare.png")
    (args.out / "compare.json").write_text(
        json.dumps({"settings": settings, "rows": rows}, indent=2)
    )
    print(
        f"wrote {args.out}/compare.md, compare.png, compare.json in {settings['total_seconds']} s"
    )


if __name__ == "__main__":
    main()
