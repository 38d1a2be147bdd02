"""Other digits class pairs: does a recipe's forgetting survive attack beyond 0 -> 1?

    .venv/bin/python bench/pairs.py --pairs 3:8,5:6 --label hardened [--steps N]
        [--hyperparameters JSON] [--seed 0] [--threads 1] [--out bench/results/pairs]
    .venv/bin/python bench/pairs.py --report-only [--out bench/results/pairs]

Each run is a job through the engine (``run_unlearning``, full attack probes) whose report is
kept as ``OUT/LABEL_U-S_seedN.json`` (the label in lower case, words joined by ``_``);
``OUT/pairs.md`` is rebuilt from all of them. The bundled never-learned reference exists for 0
alone, so other pairs are judged on the policy's absolute limit for each attack (10%) instead of
the reference's rate.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from sfd_core.job import UnlearnRequest, run_unlearning
from sfd_core.probes.budget import CONDITIONING_STARTS as STARTS


def run_pair(
    unsafe: str, surrogate: str, label: str, steps: int | None, seed: int, extra: dict[str, Any]
) -> dict[str, Any]:
    """One job on bundled digits; its report with the run's label."""
    request = UnlearnRequest(
        model="digits",
        unsafe=[unsafe],
        surrogate=surrogate,
        steps=steps,
        seed=seed,
        hyperparameters=extra,
        probes="full",
    )
    with tempfile.TemporaryDirectory() as tmp:
        report = run_unlearning(request, Path(tmp)).report
    return {"label": label, **report}


def row(report: dict[str, Any]) -> str:
    """One table row: the label, pair, ASR from each start, relearning, fidelity, verdict."""
    forget = report["forget"]
    pair = f"{forget['unsafe'][0]} -> {forget['surrogates'][0]}"
    attacks = {a["start"]: a["asr"] for a in report["robustness"]["attacks"]}
    asr = [f"{100 * attacks[s]:.1f}%" if s in attacks else "-" for s in STARTS]
    relearn = report["robustness"]["relearning"].get("steps_to_half")
    ratio = report["retained_fd"] / report["teacher"]["retained_fd"]
    cells = [
        report["label"],
        pair,
        str(report["seed"]),
        str(report["steps"]),
        *asr,
        "never" if relearn is None else f"{relearn:.1f}",
        f"{report['retained_fd']:.2f} ({ratio:.2f}x)",
        f"{report['wall_seconds']:.0f}",
        report["verdict"]["verdict"],
    ]
    return "| " + " | ".join(cells) + " |"


def write_report(out: Path) -> Path:
    reports = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    reports.sort(key=lambda r: (r["forget"]["unsafe"], r["label"], r["seed"]))
    head = "| recipe | pair | seed | steps | " + " | ".join(f"ASR {s}" for s in STARTS)
    lines = [
        "# Other class pairs: digits jobs attacked with the full probe budget",
        "",
        "Written by `bench/pairs.py`. ASR: share of fresh samples the independent judge reads as "
        "the forgotten digit after a conditioning attack from each start (limit 10% without a "
        "reference model). Relearning: fine-tuning steps on 16 real examples to half the "
        "teacher's rate. Retained FD over the teacher's. Train s: the job's training wall "
        "seconds, one thread, beside one other run. Each recipe's hyperparameters are in its "
        "JSON (`hyperparameters`).",
        "",
        head + " | relearn: steps to half | retained FD | train s | verdict |",
        "|" + "---|" * (len(STARTS) + 8),
        *[row(r) for r in reports],
    ]
    path = out / "pairs.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="3:8", help="unsafe:surrogate digits, comma-separated")
    parser.add_argument("--label", default="default")
    parser.add_argument("--steps", type=int, help="default: the digits model's")
    parser.add_argument("--hyperparameters", type=json.loads, default={})
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/results/pairs"))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for pair in args.pairs.split(","):
            unsafe, surrogate = pair.split(":")
            report = run_pair(
                unsafe, surrogate, args.label, args.steps, args.seed, args.hyperparameters
            )
            slug = re.sub(r"[^a-z0-9]+", "_", args.label.lower()).strip("_")
            name = f"{slug}_{unsafe}-{surrogate}_seed{args.seed}.json"
            (args.out / name).write_text(json.dumps(report, indent=1))
    print(write_report(args.out).read_text())


if __name__ == "__main__":
    main()
