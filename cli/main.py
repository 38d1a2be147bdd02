"""The `sfd` entry point: one Typer app assembling each area's commands."""

import typer

from cli import admin, certificate, demo, engine, jobs, keys, probe, service, worker

app = typer.Typer(
    help="sfd-unlearn: forget classes and concepts in diffusion models.", no_args_is_help=True
)
engine.register(app)
service.register(app)
jobs.register(app)
demo.register(app)
admin.register(app)
certificate.register(app)
worker.register(app)
keys.register(app)
probe.register(app)
