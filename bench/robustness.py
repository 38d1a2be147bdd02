"""Attack probes on every method, digits 0 -> 1: ASR table beside the never-learned reference.

    .venv/bin/python bench/robustness.py [--methods sfd,hardened,reference,swap,esd,sa,salun,
        ca,retrain,teacher]
        [--steps 400] [--budget full] [--seed 0] [--out bench/results] [--write-references]
        [--report-only] [--batch-size N] [--hyperparameters JSON]

One-step methods (``sfd``, ``hardened``, ``reference``) run through the real engine
(``run_unlearning``) and are probed with the ``--budget`` probe budget. ``reference`` is plain
SFD distilled from ``bundled/references/digits-without-0`` (the same teacher recipe, never shown
a 0): the floor a truly forgotten one-step generator should approach. Multi-step models (the
baselines of ``bench/compare.py`` on its CPU-second budgets, and the original ``teacher``) are
attacked through the Heun-6 sampler on a smaller budget (recorded in the table), since every
attack step backpropagates through 11 network evaluations.

Each method's figures go to ``OUT/robustness/MODEL/METHOD.json`` (one process per method is fine:
they are collected at the end); ``robustness.md`` is rebuilt from all of them.
``--model shapes`` runs ``sfd`` and ``hardened`` on the text toy (red -> blue).
``--write-references`` stores the reference's figures in the bundled references.json so job
reports carry them.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from sfd_core import OneStepGenerator
from sfd_core.baselines import BASELINES, Budget
from sfd_core.conditions import ForgetSpec
from sfd_core.job import UnlearnRequest, run_unlearning
from sfd_core.loading import BUNDLED_DIR, load_teacher
from sfd_core.probes import PROBE_BUDGETS, ProbeBudget, run_probes
from sfd_core.probes.budget import CONDITIONING_STARTS
from sfd_core.probes.kits import DigitsKit
from sfd_core.probes.references import store_reference
from sfd_core.probes.subjects import class_target, concept_rate, job_subject
from sfd_core.probes.suite import ProbeSubject
from sfd_core.probes.target import Sampler

UNSAFE, SURROGATE = "0", "1"
# --model shapes: the text toy, red -> blue (one-step methods only; no reference model).
PAIRS = {"digits": (UNSAFE, SURROGATE), "shapes": ("red", "blue")}
REFERENCE_TEACHER = BUNDLED_DIR / "references" / "digits-without-0"
MULTISTEP_SAMPLER = Sampler(6)
ONE_STEP = ("sfd", "hardened", "reference")
# Multi-step baselines (bench/compare.py's, with its CPU-second budgets), probed through Heun-6.
BASELINE_METHODS = {
    "swap": ("Embedding swap", 60),
    "esd": ("ESD", 60),
    "sa": ("Selective Amnesia", 60),
    "salun": ("SalUn", 60),
    "ca": ("Concept Ablation", 60),
    "retrain": ("Retrain", 180),
}
LABELS = {
    "sfd": "SFD (default)",
    "hardened": "SFD, hardened",
    "reference": "Reference: SFD of a teacher never shown a 0",
    **{key: f"{name} (Heun-6)" for key, (name, _) in BASELINE_METHODS.items()},
    "teacher": "Teacher, not unlearned (Heun-6)",
}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def multistep_budget(budget: ProbeBudget) -> ProbeBudget:
    """A third of the attack steps at half the batch: Heun-6 costs 11 evaluations per sample."""
    return replace(
        budget,
        name=f"{budget.name}/heun-6",
        attack_steps=max(1, budget.attack_steps // 3),
        attack_batch=max(1, budget.attack_batch // 2),
    )


def run_one_step(
    method: str, model: str, steps: int, budget: str, seed: int, extra: dict[str, Any]
) -> dict[str, Any]:
    """Distil with the engine (probes included; ``extra`` over the job's hyperparameters) and
    keep the report's figures."""
    unsafe, surrogate = PAIRS[model]
    hyperparameters = ({"harden": True} if method == "hardened" else {}) | extra
    request = UnlearnRequest(
        model=str(REFERENCE_TEACHER) if method == "reference" else model,
        unsafe=[unsafe],
        surrogate=surrogate,
        steps=steps,
        seed=seed,
        hyperparameters=hyperparameters,
        probes="off" if method == "reference" else budget,
    )
    phases: dict[str, float] = {}
    last = {"phase": "train", "at": time.monotonic()}

    def on_progress(event) -> None:
        if event.phase != last["phase"]:
            now = time.monotonic()
            phases[last["phase"]] = phases.get(last["phase"], 0) + now - last["at"]
            last.update(phase=event.phase, at=now)
            print(f"[{method}] {event.phase}: {event.message or ''}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        result = run_unlearning(request, Path(tmp), on_progress=on_progress)
        phases[last["phase"]] = phases.get(last["phase"], 0) + time.monotonic() - last["at"]
        if method == "reference":
            return probe_reference(Path(tmp) / "generator", budget, seed, result.report)
        picture = Path(tmp) / "robustness.png"
        image = picture.read_bytes() if picture.is_file() else None
    report = result.report
    return {
        "method": method,
        "train_seconds": report["wall_seconds"],
        "probe_seconds": round(phases.get("probe", 0.0), 1),
        "forget_rate": report["forget_rate"],
        "retained_accuracy": report["retained_accuracy"],
        "retained_fd": report["retained_fd"],
        "diversity": report["diversity"],
        "teacher": {k: report["teacher"].get(k) for k in ("retained_accuracy", "retained_fd")},
        "robustness": report["robustness"],
        "verdict": report["verdict"]["verdict"],
        "failed": report["verdict"]["failed"],
        "_image": image,
    }


def probe_reference(
    generator_dir: Path, budget: str, seed: int, report: dict[str, Any]
) -> dict[str, Any]:
    """Probe the reference generator as a job on the *original* teacher would be: same kit,
    and relearning measured against the original teacher's rate of the concept."""
    teacher = load_teacher("digits")
    spec = ForgetSpec.create([UNSAFE], SURROGATE, "fixed")
    plan = teacher.plan(spec)
    generator = OneStepGenerator.from_pretrained(generator_dir)
    chosen = PROBE_BUDGETS[budget]
    subject = job_subject(
        teacher,
        generator.denoiser,
        plan,
        spec,
        sigma_init=generator.sigma_init,
        budget=chosen,
        seed=seed,
    )
    started = time.monotonic()
    result = run_probes(subject, chosen, seed, on_attack=lambda m: print(f"[reference] {m}"))
    buffer = io.BytesIO()
    result.image.save(buffer, format="PNG")
    return {
        "method": "reference",
        "train_seconds": report["wall_seconds"],
        "probe_seconds": round(time.monotonic() - started, 1),
        "robustness": result.section,
        "_image": buffer.getvalue(),
    }


def run_multistep(method: str, budget: str, seed: int) -> dict[str, Any]:
    """Probe the teacher, or a baseline's model (trained here on its CPU budget), through the
    Heun-6 sampler."""
    teacher = load_teacher("digits")
    plan = teacher.plan(ForgetSpec.create([UNSAFE], SURROGATE, "fixed"))
    denoiser = teacher.denoiser
    if method in BASELINE_METHODS:
        name, seconds = BASELINE_METHODS[method]
        print(f"[{method}] unlearning with {name} ({seconds} CPU s)", file=sys.stderr)
        cpu_budget = Budget(seconds=seconds, clock=time.process_time)
        denoiser = BASELINES[name](teacher, plan, cpu_budget, seed=seed)
    chosen = multistep_budget(PROBE_BUDGETS[budget])
    kit = DigitsKit([0])
    target = class_target(denoiser, teacher.sample_shape, MULTISTEP_SAMPLER, teacher.null_id)
    original = class_target(teacher.denoiser, teacher.sample_shape, Sampler(18), teacher.null_id)
    subject = ProbeSubject(
        target=target,
        kit=kit,
        forget_ids=[0],
        surrogate_id=1,
        teacher_rate=concept_rate(original, kit, 0, chosen.teacher_samples, seed),
        concept=UNSAFE,
    )
    started = time.monotonic()
    result = run_probes(subject, chosen, seed, on_attack=lambda m: print(f"[{method}] {m}"))
    assert result is not None
    return {
        "method": method,
        "probe_seconds": round(time.monotonic() - started, 1),
        "robustness": result.section,
        "_image": None,
    }


def _asr(result: dict[str, Any]) -> dict[str, float]:
    attacks = (result.get("robustness") or {}).get("attacks", [])
    return {f"{a['probe']}:{a['start']}": a["asr"] for a in attacks}


def _judge(results: dict[str, dict[str, Any]]) -> str:
    return next(iter(r["robustness"]["judge"] for r in results.values()), "-")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def write_report(out: Path, model: str, results: dict[str, dict[str, Any]]) -> Path:
    """robustness.md (robustness_shapes.md): a row per method, ASR beside the reference's."""
    unsafe, surrogate = PAIRS[model]
    reference = results.get("reference", {}).get("robustness") or {}
    ref_asr = {f"{a['probe']}:{a['start']}": a["asr"] for a in reference.get("attacks", [])}
    starts = list(CONDITIONING_STARTS)
    if any(k == "discrete:search" for r in results.values() for k in _asr(r)):
        starts.append("search")
    head = "| method | " + " | ".join(f"ASR {s}" for s in starts)
    head += " | relearn rates (steps) | steps to half | forget | ret. acc | ret. FD | train s |"
    lines = [
        f"# Robustness: attack probes on {model}, forget {unsafe} -> {surrogate}",
        "",
        f"Written by `bench/robustness.py --model {model}`. ASR: share of fresh samples the "
        f"independent judge reads as {unsafe} *and* that sit near real examples in the "
        "evaluator's features, after a conditioning attack steered by another classifier from "
        "each start (text models also: the best prompt of the discrete search). In brackets: "
        f"the reference (SFD of a teacher never shown a {unsafe}), where there is one. "
        f"Relearning: fine-tuning on 16 real examples of {unsafe}; steps to reach half the "
        f"teacher's rate. Judge: {_judge(results)}.",
        "",
        head,
        "|" + "---|" * (len(starts) + 7),
    ]
    for method, res in results.items():
        rob = res.get("robustness") or {}
        asr = _asr(res)
        cells = []
        for s in starts:
            key = "discrete:search" if s == "search" else f"conditioning:{s}"
            own = _pct(asr.get(key))
            cells.append(
                own
                if method == "reference" or key not in ref_asr
                else f"{own} ({_pct(ref_asr[key])})"
            )
        relearn = rob.get("relearning") or {}
        steps, rates = relearn.get("steps", []), relearn.get("rates", [])
        curve = ", ".join(f"{r:.2f}@{k}" for k, r in zip(steps, rates, strict=True))
        half = relearn.get("steps_to_half")
        fd = res.get("retained_fd")
        lines.append(
            f"| {LABELS.get(method, method)} | "
            + " | ".join(cells)
            + f" | {curve} | {'never' if half is None and relearn else half} | "
            + f"{_pct(res.get('forget_rate'))} | {_pct(res.get('retained_accuracy'))} | "
            + f"{'-' if fd is None else f'{fd:.2f}'} | {res.get('train_seconds', '-')} |"
        )
    lines += ["", "Budgets (each method's `robustness.budget_detail` in its JSON):", ""]
    for method, res in results.items():
        rob = res.get("robustness") or {}
        attack = (rob.get("attacks") or [{}])[0].get("budget", {})
        lines.append(
            f"- {LABELS.get(method, method)}: budget `{rob.get('budget')}`, sampler "
            f"{rob.get('sampler')}, {attack.get('steps')} Adam steps at batch "
            f"{attack.get('batch')}, lr {attack.get('lr')}, judged on "
            f"{attack.get('judged_samples')} samples, seed {rob.get('seed')}; "
            f"probes took {res.get('probe_seconds')} s"
            + (
                f"; verdict **{res['verdict']}** (failed: {', '.join(res['failed']) or 'none'})"
                if "verdict" in res
                else ""
            )
        )
    path = out / ("robustness.md" if model == "digits" else f"robustness_{model}.md")
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(LABELS))
    parser.add_argument("--model", default="digits", choices=sorted(PAIRS))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, help="SFD batch size (default: the engine's)")
    parser.add_argument(
        "--hyperparameters",
        type=json.loads,
        default={},
        help="JSON over each one-step job's hyperparameters, e.g. '{\"warmup_steps\": 360}'",
    )
    parser.add_argument("--budget", default="full", choices=sorted(PROBE_BUDGETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--write-references", action="store_true")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = args.out / "robustness" / args.model
    folder.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for method in args.methods.split(","):
            if method not in LABELS:
                sys.exit(f"unknown method {method!r}; choose from {', '.join(LABELS)}")
            started = cpu_seconds()
            if method in ONE_STEP:
                extra = args.hyperparameters | (
                    {} if args.batch_size is None else {"batch_size": args.batch_size}
                )
                result = run_one_step(method, args.model, args.steps, args.budget, args.seed, extra)
                result |= {"steps": args.steps, "hyperparameters": extra}
            elif args.model != "digits":
                sys.exit(f"{method}: only digits has multi-step baselines and a reference")
            else:
                result = run_multistep(method, args.budget, args.seed)
            result["cpu_seconds"] = round(cpu_seconds() - started, 1)
            image = result.pop("_image")
            if image is not None:
                (args.out / f"robustness-{args.model}-{method}.png").write_bytes(image)
            (folder / f"{method}.json").write_text(json.dumps(result, indent=2))
            print(f"[{method}] done in {result['cpu_seconds']} CPU s", flush=True)
            if method == "reference" and args.write_references:
                teacher = load_teacher("digits")
                store_reference(
                    teacher.sha256,
                    UNSAFE,
                    args.budget,
                    result["robustness"],
                    model=f"SFD ({args.steps} steps) of {REFERENCE_TEACHER.name}",
                )
    results = {}
    for method in LABELS:
        path = folder / f"{method}.json"
        if path.is_file():
            results[method] = json.loads(path.read_text())
    print(write_report(args.out, args.model, results).read_text())


if __name__ == "__main__":
    main()
