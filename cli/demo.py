"""``sfd demo``: the main job end to end on the embedded defaults."""

from __future__ import annotations

import json
import secrets
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.jobs import download_all, follow, print_job, print_report
from cli.remote import console, fail
from sfd_core.presets import MODEL_STEPS

DIGITS_STEPS = MODEL_STEPS["digits"]


def demo(
    steps: Annotated[
        int | None,
        typer.Option(help=f"Distillation steps (default: the digits model's, {DIGITS_STEPS})."),
    ] = None,
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
        console.print(f"submitted {job['id']}: forget class 0 -> surrogate 1, {job['steps']} steps")
        job = follow(client, job["id"])
        if job["status"] != "succeeded":
            print_job(job)
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
    print_report(json.loads(files["report.json"].read_text()))
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


def register(app: typer.Typer) -> None:
    app.command()(demo)
