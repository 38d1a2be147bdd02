"""Service commands: ``sfd serve``, ``submit``, ``status``, ``wait``, ``download``, ``demo``,
``audit verify`` and ``db upgrade`` (``sfd keys`` lives in :mod:`cli.keys`)."""

from __future__ import annotations

import json
import os
import secrets
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
from cli.config import DEFAULT_URL, write_config
from cli.remote import KeyOption, UrlOption, calls, console, fail

if TYPE_CHECKING:  # httpx and pydantic-settings load in the commands that use them
    from api.client import SFDClient
    from domain.settings import Settings

ADMIN_KEY_FILE = "admin.key"

# `sfd submit --wait` and `sfd wait` exit with this when the job ended failed or cancelled.
JOB_NOT_SUCCEEDED = 3
TERMINAL = {"succeeded", "failed", "cancelled"}


def admin_key(settings: Settings) -> str:
    """``SFD_ADMIN_API_KEY``, else the key kept in ``SFD_HOME/admin.key`` (made on first use)."""
    if settings.admin_api_key is not None:
        return settings.admin_api_key.get_secret_value()
    path = settings.home / ADMIN_KEY_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("sfd_" + secrets.token_urlsafe(32))
    return path.read_text().strip()


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


def _print_job(job: dict[str, Any]) -> None:
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


def _print_report(report: dict[str, Any]) -> None:
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


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="API processes (more than 1: PostgreSQL and SFD_RUNNER=celery or none)."
        ),
    ] = 1,
) -> None:
    """Start the API with its job runner (embedded defaults: SQLite and a folder in SFD_HOME)."""
    from api.server import PortInUse, WorkersRefused, check_port
    from api.server import serve as run_server
    from domain.settings import Settings

    try:
        check_port(host, port)
    except PortInUse as exc:
        raise fail(str(exc)) from None
    settings = Settings()
    key = admin_key(settings)
    source = "SFD_ADMIN_API_KEY"
    if settings.admin_api_key is None:
        key_file = (settings.home / ADMIN_KEY_FILE).resolve()
        source = str(key_file)
        console.print(f"admin API key: {key_file}", highlight=False, soft_wrap=True)
        console.print(
            f"sign the CLI in with: sfd login --url http://{host}:{port} --api-key-file {key_file}",
            highlight=False,
            soft_wrap=True,
        )
    try:
        run_server(
            Settings(admin_api_key=key), host, port, workers=workers, admin_key_source=source
        )
    except WorkersRefused as exc:
        raise fail(str(exc), 2) from None


def login(
    url: Annotated[
        str, typer.Option("--url", envvar="SFD_URL", help="The API's base URL.")
    ] = DEFAULT_URL,
    api_key: Annotated[
        str | None, typer.Option("--api-key", envvar="SFD_API_KEY", help="The API key.")
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Read the API key from this file."),
    ] = None,
) -> None:
    """Check a key against the server and save both for later commands (in $SFD_CONFIG, else
    ~/.config/sfd/config.toml, mode 0600); asks for the key if none is given."""
    from api.client import APIError

    if api_key_file is not None:
        api_key = api_key_file.read_text().strip()
    if not api_key:
        api_key = typer.prompt("API key", hide_input=True).strip()
    url = url.rstrip("/")
    with remote.client(url, api_key) as api, calls(api):
        try:
            api.list_jobs(limit=1)
        except APIError as exc:  # 403: a valid key without jobs:read
            if exc.status != 403:
                raise
    path = write_config(url, api_key)
    console.print(
        f"signed in to {url} (key {api_key[:10]}...); saved in {path}",
        highlight=False,
        soft_wrap=True,
    )


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
    steps: Annotated[int | None, typer.Option(help="Distillation steps.")] = None,
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
    _print_job(job)
    if job["status"] == "succeeded" and job.get("metrics"):
        _print_report(job["metrics"])


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


def demo(
    steps: Annotated[int, typer.Option(help="Distillation steps.")] = 400,
    out: Annotated[Path, typer.Option(help="Where the artifacts go.")] = Path("out/demo"),
    home: Annotated[
        Path | None, typer.Option(help="Service home (default: a temp folder).")
    ] = None,
    eval_samples: Annotated[int, typer.Option(help="Samples per class for the report.")] = 100,
    probes: Annotated[str, typer.Option(help="Attack probes: full, quick or off.")] = "full",
) -> None:
    """Start the embedded service, forget 0 -> 1 on the bundled digits teacher, follow it,
    download and check the generator, sample it, and print the report and verdict."""
    from api.client import SFDClient
    from api.server import BackgroundServer
    from domain.settings import Settings
    from sfd_core.generator import OneStepGenerator
    from sfd_core.grids import image_row

    home = home or Path(tempfile.mkdtemp(prefix="sfd-demo-"))
    key = "sfd_" + secrets.token_urlsafe(32)
    settings = Settings(
        home=home,
        database_url=f"sqlite:///{(home / 'sfd.db').resolve()}",
        storage_url=(home / "artifacts").resolve().as_uri(),
        admin_api_key=key,
        runner="embedded",
    )
    console.print(f"starting the embedded service in {home} ...")
    with BackgroundServer(settings) as server, SFDClient(server.url, key) as client:
        console.print(f"API at {server.url} (OpenAPI docs at {server.url}/docs)")
        job = client.submit_job(
            model="digits",
            unsafe_concept="0",
            safe_surrogate="1",
            steps=steps,
            eval_samples_per_class=eval_samples,
            probes=probes,
        )
        console.print(f"submitted {job['id']}: forget class 0 -> surrogate 1, {steps} steps")
        job = follow(client, job["id"])
        if job["status"] != "succeeded":
            _print_job(job)
            raise fail(f"the job ended {job['status']}")
        files = download_all(client, job["id"], out)
        verification = client.verify_audit()
    generator_dir = out / "generator"
    generator = OneStepGenerator.from_pretrained(generator_dir)
    rows = [
        image_row(generator.generate([name] * 8, seed=i), scale=6)
        for i, name in enumerate(generator.class_names)
    ]
    grid_path = out / "generator_grid.png"
    _stack(rows).save(grid_path)
    console.print(f"generator loaded from {generator_dir}; one-step samples per class: {grid_path}")
    _print_report(json.loads(files["report.json"].read_text()))
    chain = "verified" if verification["valid"] else f"BROKEN: {verification['reason']}"
    console.print(f"audit chain: {chain} ({verification['events']} events of this tenant)")


def _stack(rows: list[Any]) -> Any:
    from PIL import Image

    gap = 4
    canvas = Image.new(
        "RGB", (max(r.width for r in rows), sum(r.height + gap for r in rows)), "white"
    )
    y = 0
    for row in rows:
        canvas.paste(row, (0, y))
        y += row.height + gap
    return canvas


audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(url: UrlOption = None, api_key: KeyOption = None) -> None:
    """Have the server check the audit chain against its newest signed checkpoint (every row
    for a platform admin key, else the key's tenant's view); exit 1 if it does not hold."""
    from api.client import APIError

    with remote.client(url, api_key) as api, calls(api):
        try:
            result = api.verify_audit(full=True)
        except APIError as exc:
            if exc.code != "insufficient_scope":
                raise
            result = api.verify_audit()
    chain = result.get("chain")
    if not result["valid"]:
        where = chain["first_broken_seq"] if chain else result["first_broken_id"]
        raise fail(f"audit chain broken at row {where}: {result['reason']}")
    if chain is None:
        console.print(
            f"audit log verified: {result['events']} events of this key's tenant, anchored "
            f"through event {result['anchored_through_event_id']}"
        )
        return
    checkpoint = chain["checkpoint"]
    anchored = (
        f"signed checkpoint at row {checkpoint['seq']} ({checkpoint['created_at']})"
        if checkpoint
        else "no signed checkpoint yet"
    )
    console.print(
        f"audit chain verified: {chain['checked']} events, head {chain['head_hash'][:16]}..., "
        f"{anchored}"
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to SFD_DATABASE_URL (default: SQLite in SFD_HOME, which must
    exist: `sfd serve` makes it)."""
    from domain.migrate import upgrade
    from domain.settings import Settings

    settings = Settings()
    if settings.database_url is None and not settings.home.is_dir():
        raise fail(
            f"no sfd data folder at {settings.home.resolve()}: run this where `sfd serve` "
            "runs, or set SFD_HOME or SFD_DATABASE_URL"
        )
    url = settings.resolved_database_url
    upgrade(url)
    console.print(f"database at head: {url.split('@')[-1]}")
    if settings.database_app_role:
        from domain.dbroles import RoleProblem, grant_app_role

        try:
            if grant_app_role(url, settings.database_app_role):
                console.print(f"granted the app role {settings.database_app_role!r}")
        except RoleProblem as exc:
            raise fail(str(exc), 2) from None


def register(app: typer.Typer) -> None:
    for command in (serve, login, submit, status, wait, cancel, download, demo):
        app.command()(command)
    app.add_typer(audit_app, name="audit")
    app.add_typer(db_app, name="db")
