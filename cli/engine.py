"""Engine commands: run SFD locally (`sfd unlearn`) and sample a generator (`sfd sample`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sfd_core.presets import describe_default_steps

if TYPE_CHECKING:  # the engine (torch, diffusers) loads inside the commands that run it
    from sfd_core.job import JobResult, UnlearnRequest
    from sfd_core.progress import ProgressEvent

err = Console(stderr=True)


@contextmanager
def one_line_errors():
    """Bad input ends the command with a one-line message and exit code 2, not a traceback."""
    from sfd_core.conditions import ForgetSpecError
    from sfd_core.config import ConfigError
    from sfd_core.loading import ModelLoadError

    try:
        yield
    except (ModelLoadError, ForgetSpecError, ConfigError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def parse_assignments(pairs: list[str]) -> dict[str, object]:
    """``key=value`` pairs with JSON values (``alpha=1.0``, ``bf16=true``)."""
    values: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {pair!r}")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def text_options(
    prompts: Path | None,
    retain_prompts: Path | None,
    templates: list[str] | None,
    negative_prompt: str | None,
) -> dict[str, object]:
    """A text forget-request's options; prompt files hold one prompt per line."""

    def lines(path: Path) -> list[str]:
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]

    options: dict[str, object] = {}
    if prompts is not None:
        options["prompts"] = lines(prompts)
    if retain_prompts is not None:
        options["retain_prompts"] = lines(retain_prompts)
    if templates:
        options["templates"] = list(templates)
    if negative_prompt:
        options["negative_prompt"] = negative_prompt
    return options


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[losses]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )


def unlearn(
    model: Annotated[str, typer.Option(help="Bundled model name (digits) or a local path.")],
    unsafe: Annotated[
        list[str],
        typer.Option(
            "--unsafe", "--forget", help="Class or concept to forget (repeatable; --forget too)."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    surrogate: Annotated[
        list[str] | None, typer.Option(help="Safe surrogate (one, or one per --unsafe).")
    ] = None,
    mode: Annotated[str, typer.Option(help="Surrogate mode: fixed or random.")] = "fixed",
    steps: Annotated[
        int | None,
        typer.Option(help=f"SFD iterations (default: the model's: {describe_default_steps()})."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    eval_samples: Annotated[int, typer.Option(help="Evaluation samples per class.")] = 100,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Hyperparameter override key=value.")
    ] = None,
    prompts: Annotated[
        Path | None, typer.Option(help="Text models: prompts to forget from, one per line.")
    ] = None,
    retain_prompts: Annotated[
        Path | None, typer.Option(help="Text models: prompts to retain, one per line.")
    ] = None,
    template: Annotated[
        list[str] | None, typer.Option(help="Text models: template such as 'a photo of {}'.")
    ] = None,
    negative_prompt: Annotated[
        str | None, typer.Option(help="Text models: negative prompt for the surrogate.")
    ] = None,
    harden: Annotated[
        bool, typer.Option(help="Hardened SFD: train against conditioning attacks.")
    ] = False,
    probes: Annotated[str, typer.Option(help="Attack probes: full, quick or off.")] = "full",
    policy: Annotated[
        list[str] | None, typer.Option(help="Forgetting-policy override key=value.")
    ] = None,
    nproc: Annotated[
        int,
        typer.Option(
            min=1,
            help="Data-parallel processes (torchrun on this host; with --device cuda, one GPU "
            "each). The batch is split over them.",
        ),
    ] = 1,
) -> None:
    """Forget classes with SFD; write generator/, report.json, samples.png and
    robustness.png to --out, and judge the result against the forgetting policy."""
    from sfd_core.job import UnlearnRequest, run_unlearning, validate_request

    with one_line_errors():
        request = UnlearnRequest(
            model=model,
            unsafe=list(unsafe),
            surrogate=list(surrogate) if surrogate else None,
            surrogate_mode=mode,
            steps=steps,
            seed=seed,
            hyperparameters=parse_assignments(set_ or []) | ({"harden": True} if harden else {}),
            eval_samples_per_class=eval_samples,
            options=text_options(prompts, retain_prompts, template, negative_prompt),
            probes=probes,
            policy=parse_assignments(policy or []),
        )
        validate_request(request, ranks=nproc)
        with progress_bar() as bar:
            task = bar.add_task("unlearning", total=request.steps, losses="")

            def show(event: ProgressEvent) -> None:
                losses = " ".join(
                    f"{k}={v:.3g}" for k, v in event.losses.items() if k.startswith("gen")
                )
                description = "unlearning" if event.phase == "train" else event.phase
                bar.update(task, completed=event.step, losses=losses, description=description)

            if nproc == 1:
                result = run_unlearning(request, out, device=device, on_progress=show)
            else:
                result = _run_ranks(request, out, nproc, device, show)
    report = result.report
    keys = ("forget_rate", "surrogate_rate", "retained_accuracy", "retained_fd", "diversity")
    summary = {k: report.get(k) for k in keys}
    summary["teacher"] = {k: report.get("teacher", {}).get(k) for k in keys}
    summary["wall_seconds"] = report["wall_seconds"]
    summary["sampling_speedup"] = report["sampling_speedup"]
    if report.get("robustness"):
        summary["strongest_attack"] = report["robustness"].get("strongest")
    summary["verdict"] = report["verdict"]["verdict"]
    summary["failed"] = report["verdict"]["failed"]
    typer.echo(json.dumps(summary, indent=2))
    typer.echo(f"wrote {out / 'generator'}, {out / 'report.json'}, {out / 'samples.png'}")


def _run_ranks(
    request: UnlearnRequest,
    out: Path,
    nproc: int,
    device: str,
    show: Callable[[ProgressEvent], None],
) -> JobResult:
    """``request`` on ``nproc`` torchrun ranks; a rank's bad input is a one-line error."""
    import tempfile

    from sfd_core.launch import RankError, RanksLost, run_distributed

    with tempfile.TemporaryDirectory(prefix="sfd-ranks-") as control:
        try:
            return run_distributed(
                request, out, nproc, Path(control), device=device, on_progress=show
            )
        except RankError as exc:
            err.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(2 if exc.kind == "invalid_request" else 1) from None
        except RanksLost as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


def sample(
    generator: Annotated[Path, typer.Option(help="A generator folder written by sfd unlearn.")],
    labels: Annotated[str, typer.Option(help="Comma-separated class names, e.g. 0,1,2.")],
    out: Annotated[Path, typer.Option(help="PNG file to write.")],
    per_label: Annotated[int, typer.Option(help="Images per label.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Make a grid of one-step samples (a row per label) from an unlearned generator."""
    from sfd_core.grids import image_rows
    from sfd_core.text.generator import load_generator

    with one_line_errors():
        if per_label < 1:
            raise ValueError("--per-label must be at least 1")
        names = [name.strip() for name in labels.split(",") if name.strip()]
        if not names:
            raise ValueError("--labels names no class")
        model = load_generator(generator)  # class labels, or prompts for text generators
        images = model.generate([n for n in names for _ in range(per_label)], seed=seed)
        image_rows(images.split(per_label), names).save(out)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command()(unlearn)
    app.command()(sample)
