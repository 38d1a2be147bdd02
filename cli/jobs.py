"""Job commands against a running API: ``sfd submit``, ``status``, ``wait``, ``cancel`` and
``download``, and the progress bar and tables they draw."""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cli import remote
from cli.remote import KeyOption, UrlOption, calls, console, fail
from sfd_core.policy import ATTACK_CRITERION

if TYPE_CHECKING:  # httpx loads in the commands that use it
    from api.client import SFDClient

# `sfd submit --wait` and `sfd wait` exit with this when the job ended failed or cancelled.
JOB_NOT_SUCCEEDED = 3
TERMINAL = {"succeeded", "failed", "cancelled"}


def _pairs(values: list[str], what: str) -> dict[str, Any]:
    """``key=value`` options; values parsed as JSON where they can be (numbers, booleans)."""
    parsed: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise fail(f"{what} must look like key=value, got {item!r}", 2)
        try:
            parsed[key] = json.loads(raw)
        except ValueError:
            parsed[key] = raw
    return parsed


def follow(client: SFDClient, job_id: str) -> dict[str, Any]:
    """Show a job's progress bar and log lines from its event stream until it ends."""
    job = client.get_job(job_id)  # an unknown job or an unreachable API: no bar is drawn
    if job["status"] in TERMINAL:
        return job
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("remaining"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("queued", total=None)
        for event in client.stream_events(job_id):
            data = event["data"]
            if event["type"] == "progress":
                bar.update(
                    task, completed=data["step"], total=data["total"], description=data["phase"]
                )
            elif event["type"] == "state":
                bar.update(task, description=data["to"])
                bar.console.print(f"[dim]state[/dim] {data['from']} -> {data['to']}")
            elif event["type"] == "log":
                bar.console.print(f"[dim]{data['level']}[/dim] {data['message']}")
            elif event["type"] == "end":
                break
    return client.get_job(job_id)


def print_job(job: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    progress = job["progress"]
    surrogates = ", ".join(job["safe_surrogate"] or ["random"])
    rows = [
        ("id", job["id"]),
        ("status", job["status"]),
        ("model", job["model"]),
        ("forget", f"{', '.join(job['unsafe_concept'])} -> {surrogates}"),
        ("progress", f"{progress['step']}/{progress['total']} ({progress['phase'] or '-'})"),
        ("attempt", str(job["attempt"])),
        ("probes", job["probes"]),
        ("verdict", _verdict_text(job)),
    ]
    if job["error"]:
        rows.append(("error", f"{job['error']['code']}: {job['error']['message']}"))
    for key, value in rows:
        table.add_row(f"[bold]{key}[/bold]", value)
    console.print(table)


def _verdict_text(job: dict[str, Any]) -> str:
    if job["verdict"] is None:
        return "pending" if job["status"] in ("queued", "running", "cancelling") else "-"
    failed = job["failed_criteria"]
    return job["verdict"] + (f" (failed: {', '.join(failed)})" if failed else "")


def print_report(report: dict[str, Any]) -> None:
    teacher = report.get("teacher", {})
    table = Table(title="unlearning report", show_lines=False)
    table.add_column("metric")
    table.add_column("teacher", justify="right")
    table.add_column("unlearned (1 step)", justify="right")
    for key in ("forget_rate", "surrogate_rate", "retained_accuracy", "retained_fd", "diversity"):
        if key in report:
            table.add_row(key, _fmt(teacher.get(key)), _fmt(report.get(key)))
    table.add_row(
        "network evaluations", _fmt(report.get("nfe_teacher")), _fmt(report.get("nfe_generator"))
    )
    console.print(table)
    console.print(f"steps {report.get('steps')}, training wall time {report.get('wall_seconds')} s")
    judged = report.get("verdict") or {}
    if judged.get("verdict"):
        failed = ", ".join(judged.get("failed") or [])
        console.print(f"verdict: {judged['verdict']}" + (f" (failed: {failed})" if failed else ""))
    if _attacked_back(judged) and not (report.get("hyperparameters") or {}).get("harden"):
        console.print(
            "the forgetting did not survive attack: a hardened job (--harden, or the "
            "hyperparameter harden=true) trains against it (docs/ROBUSTNESS.md)"
        )


def _attacked_back(judged: dict[str, Any]) -> bool:
    """Whether the verdict failed on an attack probe."""
    return any(name.startswith(ATTACK_CRITERION) for name in judged.get("failed") or [])


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "-" if value is None else str(value)


def download_all(client: SFDClient, job_id: str, out: Path) -> dict[str, Path]:
    """Download every artifact into ``out``, refusing any whose sha256 does not match, and
    unpack ``generator.tar`` into ``out/generator``. Only a succeeded job is downloaded; on any
    failure what was written is removed again (``out`` too, if this made it)."""
    job = client.get_job(job_id)
    if job["status"] != "succeeded":
        raise fail(f"job {job_id} is {job['status']}: only a succeeded job has artifacts")
    artifacts = client.artifacts(job_id)
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    try:
        for artifact in artifacts:
            path = out / artifact["name"]
            files[artifact["name"]] = path
            digest = client.download(job_id, artifact["name"], path)
            if digest != artifact["sha256"]:
                name, expected = artifact["name"], artifact["sha256"]
                raise fail(f"{name}: sha256 {digest} does not match {expected}")
            size = artifact["size"]
            console.print(f"downloaded {path} ({size} bytes, sha256 {digest[:16]}... ok)")
        if "generator.tar" in files:
            generator = _unpack_generator(files["generator.tar"], out)
            console.print(f"unpacked {generator} (OneStepGenerator.from_pretrained loads it)")
    except BaseException:
        if made:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for path in files.values():
                path.unlink(missing_ok=True)
        raise
    return files


def _unpack_generator(tar_path: Path, out: Path) -> Path:
    """Unpack the generator archive into ``out/generator`` (replacing an earlier one). The
    archive holds one top-level ``generator/`` folder; older ones hold its files."""
    staging = Path(tempfile.mkdtemp(prefix=".generator-", dir=out))
    try:
        with tarfile.open(tar_path) as archive:
            archive.extractall(staging, filter="data")
        entries = list(staging.iterdir())
        inner = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
        target = out / "generator"
        if target.is_dir():
            shutil.rmtree(target)
        inner.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def submit(
    url: UrlOption = None,
    api_key: KeyOption = None,
    model: Annotated[
        str, typer.Option(help="Model id, bundled name or the name of one of your models.")
    ] = "digits",
    forget: Annotated[
        list[str],
        typer.Option("--unsafe", "--forget", help="Unsafe class/concept (repeat; --forget too)."),
    ] = ...,  # type: ignore[assignment]
    surrogate: Annotated[list[str] | None, typer.Option(help="Safe surrogate (repeat).")] = None,
    surrogate_mode: Annotated[str, typer.Option(help="fixed or random.")] = "fixed",
    steps: Annotated[
        int | None, typer.Option(help="Distillation steps (default: the model's).")
    ] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    hp: Annotated[list[str] | None, typer.Option("--hp", help="Hyperparameter key=value.")] = None,
    metadata: Annotated[list[str] | None, typer.Option(help="Metadata key=value.")] = None,
    eval_samples: Annotated[
        int | None, typer.Option(help="Samples per class for the report.")
    ] = None,
    probes: Annotated[
        str | None, typer.Option(help="Attack probes: full, quick or off (default: the server's).")
    ] = None,
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy", help="Forgetting-policy limit key=value, e.g. max_forget_rate=0.05."
        ),
    ] = None,
    gpus: Annotated[
        int | None,
        typer.Option(help="Data-parallel processes, one GPU each on a GPU worker (default 1)."),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Follow the job until it ends.")] = False,
) -> None:
    """Submit a forget-request; prints the job id."""
    with remote.client(url, api_key) as api:
        with calls(api, code=2):
            job = api.submit_job(
                model=model,
                unsafe_concept=forget,
                safe_surrogate=surrogate or None,
                surrogate_mode=surrogate_mode,
                steps=steps,
                seed=seed,
                hyperparameters=_pairs(hp or [], "--hp"),
                metadata={k: str(v) for k, v in _pairs(metadata or [], "--metadata").items()},
                eval_samples_per_class=eval_samples,
                probes=probes,
                policy=_pairs(policy, "--policy") if policy else None,
                gpus=gpus,
            )
        console.print(job["id"])
        if wait:
            with calls(api):
                job = follow(api, job["id"])
            _print_outcome(job)
            if job["status"] != "succeeded":
                raise typer.Exit(JOB_NOT_SUCCEEDED)


def _print_outcome(job: dict[str, Any]) -> None:
    """The job, and its report's metrics once it has succeeded."""
    print_job(job)
    if job["status"] == "succeeded" and job.get("metrics"):
        print_report(job["metrics"])


def status(job_id: str, url: UrlOption = None, api_key: KeyOption = None) -> None:
    """Show a job's state and progress (and its metrics once it has succeeded)."""
    with remote.client(url, api_key) as api, calls(api):
        job = api.get_job(job_id)
    _print_outcome(job)


def wait(job_id: str, url: UrlOption = None, api_key: KeyOption = None) -> None:
    """Follow a job with a progress bar until it ends and print its metrics; exit 3 if it
    ended failed or cancelled (as `sfd submit --wait` does)."""
    with remote.client(url, api_key) as api, calls(api):
        job = follow(api, job_id)
    _print_outcome(job)
    if job["status"] != "succeeded":
        raise typer.Exit(JOB_NOT_SUCCEEDED)


def cancel(job_id: str, url: UrlOption = None, api_key: KeyOption = None) -> None:
    """Cancel a job: a queued one ends at once, a running one stops between steps."""
    with remote.client(url, api_key) as api, calls(api):
        job = api.cancel_job(job_id)
    console.print(f"{job['id']}: {job['status']}")


def download(
    job_id: str,
    out: Annotated[Path, typer.Option(help="Folder for the artifacts.")] = Path("out"),
    url: UrlOption = None,
    api_key: KeyOption = None,
) -> None:
    """Download a succeeded job's artifacts, checking each sha256, and unpack the generator
    into OUT/generator (what OneStepGenerator.from_pretrained loads)."""
    with remote.client(url, api_key) as api, calls(api):
        download_all(api, job_id, out)


def register(app: typer.Typer) -> None:
    for command in (submit, status, wait, cancel, download):
        app.command()(command)
