"""`sfd probe`: run the attack probes on any generator artifact and print what they found."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.engine import err, one_line_errors


def probe(
    generator: Annotated[Path, typer.Option(help="A generator folder written by sfd unlearn.")],
    concept: Annotated[list[str], typer.Option(help="Concept it should have forgotten.")],
    budget: Annotated[str, typer.Option(help="Probe budget: full or quick.")] = "full",
    seed: Annotated[int, typer.Option(help="Random seed of every attack.")] = 0,
    teacher: Annotated[
        str | None, typer.Option(help="The teacher, if sfd.json's one cannot be loaded here.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for robustness.json and robustness.png.")
    ] = None,
) -> None:
    """Attack a generator: conditioning attack, relearning and (text) prompt search."""
    from sfd_core.probes.artifact import probe_artifact

    with one_line_errors():
        if not generator.is_dir():
            raise ValueError(f"{generator}: no such generator folder")
        if out is not None and out.exists() and not out.is_dir():
            raise ValueError(f"{out}: exists and is not a folder")
        result = probe_artifact(
            generator,
            [c.strip() for c in concept],
            budget=budget,
            seed=seed,
            teacher_ref=teacher,
            on_attack=lambda message: err.print(f"{message} ({budget} budget) ..."),
        )
    section = result.section
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "robustness.json").write_text(json.dumps(section, indent=2))
        if result.image is not None:
            result.image.save(out / "robustness.png")
    for attack in section["attacks"]:
        reference = attack.get("reference_asr")
        beside = "" if reference is None else f" (reference {reference:.1%})"
        typer.echo(f"{attack['probe']:>12} {attack['start']:<10} ASR {attack['asr']:.1%}{beside}")
    relearning = section.get("relearning")
    if relearning is not None:
        curve = ", ".join(
            f"{k}: {r:.0%}" for k, r in zip(relearning["steps"], relearning["rates"], strict=True)
        )
        typer.echo(
            f"  relearning {curve}; steps to half the teacher's rate: {relearning['steps_to_half']}"
        )
    strongest = section["strongest"]
    typer.echo(f"strongest: {strongest['probe']} ({strongest['start']}) {strongest['asr']:.1%}")


def register(app: typer.Typer) -> None:
    app.command()(probe)
