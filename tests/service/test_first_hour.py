"""A newcomer's first hour (issue 13): the `sfd` client commands, downloads that match the
README, models used by name, text concepts checked before queueing, plain error messages."""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import torch
from alembic import command
from typer.testing import CliRunner

from api.server import free_port
from cli.main import app
from domain import archive
from domain.errors import Invalid
from domain.migrate import alembic_config, upgrade
from sfd_core import OneStepGenerator
from sfd_core.loading import BUNDLED_MODELS

from .support import Service, assert_problem, finished_job, start_service, submit, wait_for


def sfd(service: Service, *args: str) -> tuple[int, str]:
    """Run the real `sfd` entry point against ``service``."""
    options = ["--url", service.url, "--api-key", service.admin_key]
    result = CliRunner().invoke(app, [*args, *options])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def roots_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Path]]:
    """A service whose models may be registered by path under a folder of the test's."""
    home = tmp_path_factory.mktemp("first-hour-home")
    roots = tmp_path_factory.mktemp("first-hour-roots")
    service = start_service(home, f"sqlite:///{home / 'sfd.db'}", model_roots=[roots])
    yield service, roots
    service.server.stop()


def _failing_model(service: Service, roots: Path, name: str) -> str:
    """A model registered by path, then removed from disk: its jobs fail."""
    folder = roots / name
    shutil.copytree(BUNDLED_MODELS["digits"], folder)
    with service.client() as admin:
        response = admin.post("/v1/models", json={"path": str(folder), "name": name})
        assert response.status_code == 201, response.text
    shutil.rmtree(folder)
    return response.json()["id"]


# -- downloads --------------------------------------------------------------------------------


def test_download_gives_the_generator_folder_the_readme_loads(
    sqlite_service: Service, teacher_tar: Path, tmp_path: Path
) -> None:
    job_id = finished_job(sqlite_service, teacher_tar)["job"]["id"]
    out = tmp_path / "out"
    for _ in range(2):  # a second download replaces the first
        code, output = sfd(sqlite_service, "download", job_id, "--out", str(out))
        assert code == 0, output
    with tarfile.open(out / "generator.tar") as tar:
        assert {name.split("/")[0] for name in tar.getnames()} == {"generator"}
    with sqlite_service.client() as client:
        listed = {a["name"] for a in client.get(f"/v1/jobs/{job_id}/artifacts").json()["data"]}
    assert {"generator.tar", "report.json", "samples.png"} <= listed
    assert {p.name for p in out.iterdir()} == listed | {"generator"}
    generator = OneStepGenerator.from_pretrained(out / "generator")
    images = generator.generate(["0", "1"], seed=0)
    assert images.shape == (2, 1, 8, 8) and torch.isfinite(images).all()


def test_generator_archive_has_one_top_level_folder(tmp_path: Path) -> None:
    folder = tmp_path / "anything"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "sub" / "w.safetensors").write_bytes(b"x")
    archive.pack(folder, tmp_path / "g.tar", top="generator")
    with tarfile.open(tmp_path / "g.tar") as tar:
        assert tar.getnames() == [
            "generator",
            "generator/config.json",
            "generator/sub/w.safetensors",
        ]
        tar.extractall(tmp_path / "x", filter="data")
    assert (tmp_path / "x" / "generator" / "sub" / "w.safetensors").read_bytes() == b"x"
    unpacked = archive.unpack(tmp_path / "g.tar", tmp_path / "y", max_files=10, max_bytes=100)
    assert unpacked.name == "generator" and (unpacked / "config.json").is_file()


# -- exit codes, cancel, metrics, an unreachable server ---------------------------------------


def test_failed_and_cancelled_jobs_exit_3_and_download_nothing(
    roots_service: tuple[Service, Path], tmp_path: Path
) -> None:
    service, roots = roots_service
    model = _failing_model(service, roots, "vanishing")
    code, output = sfd(
        service, "submit", "--model", model, "--forget", "0", "--surrogate", "1", "--wait"
    )
    assert code == 3, output
    assert "failed" in output
    job_id = output.split()[0]
    code, output = sfd(service, "wait", job_id)
    assert code == 3, output

    with service.client() as admin:
        running = submit(admin, steps=20_000)
    code, output = sfd(service, "cancel", running["id"])
    assert code == 0, output
    assert output.strip() in {f"{running['id']}: cancelled", f"{running['id']}: cancelling"}
    code, output = sfd(service, "wait", running["id"])
    assert code == 3 and "cancelled" in output, output
    code, output = sfd(service, "cancel", running["id"])
    assert code == 1 and "already cancelled" in output, output

    for job, status in ((job_id, "failed"), (running["id"], "cancelled")):
        out = tmp_path / f"out-{status}"
        code, output = sfd(service, "download", job, "--out", str(out))
        assert code == 1, output
        assert output.strip().splitlines() == [
            f"error: job {job} is {status}: only a succeeded job has artifacts"
        ]
        assert not out.exists()


def test_status_and_wait_print_the_metrics(sqlite_service: Service) -> None:
    with sqlite_service.client() as client:
        job = submit(client, steps=1, eval_samples_per_class=2, probes="off")
        job = wait_for(client, job["id"], {"succeeded"})
    report = job["metrics"]
    for verb in ("status", "wait"):
        code, output = sfd(sqlite_service, verb, job["id"])
        assert code == 0, output
        assert "unlearning report" in output
        for key in ("forget_rate", "retained_accuracy", "retained_fd"):
            row = next(line for line in output.splitlines() if line.lstrip("│ ").startswith(key))
            assert f"{report[key]:.4g}" in row and f"{report['teacher'][key]:.4g}" in row, row
        assert f"training wall time {report['wall_seconds']} s" in output
        assert f"verdict: {report['verdict']['verdict']}" in output


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (
        ["status", "job_x"],
        ["wait", "job_x"],
        ["cancel", "job_x"],
        ["download", "job_x", "--out", str(tmp_path / "out")],
        ["submit", "--forget", "0", "--surrogate", "1"],
    ):
        result = CliRunner().invoke(app, [*args, "--url", url, "--api-key", "sfd_x"])
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: cannot reach the API at {url}")
        assert "Traceback" not in result.output and result.exception is not None
    assert not (tmp_path / "out").exists()


# -- models by name ---------------------------------------------------------------------------


def test_an_uploaded_model_is_usable_by_name(sqlite_service: Service, teacher_tar: Path) -> None:
    key = sqlite_service.new_key("newcomer", ["jobs:read", "jobs:write", "models:write"])
    other = sqlite_service.new_key("newcomer-2", ["jobs:read", "jobs:write", "models:write"])

    def upload(client: httpx.Client, name: str | None) -> httpx.Response:
        return client.post(
            "/v1/models",
            content=teacher_tar.read_bytes(),
            params={"name": name} if name else {},
            headers={"Content-Type": "application/x-tar"},
        )

    with sqlite_service.client(key) as client, sqlite_service.client(other) as stranger:
        model = upload(client, "mine")
        assert model.status_code == 201, model.text
        job = client.post(
            "/v1/jobs",
            json={"model": "mine", "unsafe_concept": "0", "safe_surrogate": "1", "steps": 5},
        )
        assert job.status_code == 201, job.text
        assert job.json()["model"] == model.json()["id"]
        client.post(f"/v1/jobs/{job.json()['id']}/cancel")
        assert client.get("/v1/models/mine").json()["id"] == model.json()["id"]

        body = assert_problem(upload(client, "mine"), 409, "model_name_taken")
        assert "mine" in body["detail"]
        for bundled in ("digits", "shapes"):
            body = assert_problem(upload(client, bundled), 409, "model_name_reserved")
            assert "bundled" in body["detail"]
        refused = client.post("/v1/models", json={"path": "/nowhere", "name": "digits"})
        assert_problem(refused, 409, "model_name_reserved")
        # Without a name a model is named by its id, so nameless uploads never collide.
        first, second = upload(client, None), upload(client, None)
        assert first.status_code == second.status_code == 201
        assert first.json()["name"] == first.json()["id"]

        # Another tenant may use the same name, and cannot use this tenant's model by it.
        lookalike = stranger.post(
            "/v1/jobs",
            json={"model": "mine", "unsafe_concept": "0", "safe_surrogate": "1", "steps": 5},
        )
        assert_problem(lookalike, 404, "model_not_found")
        assert upload(stranger, "mine").status_code == 201


# -- validation before queueing, plain messages -----------------------------------------------


def test_text_concepts_are_checked_before_queueing(sqlite_service: Service) -> None:
    with sqlite_service.client() as client:
        body = {"model": "shapes", "unsafe_concept": "purple", "safe_surrogate": "blue"}
        refused = assert_problem(client.post("/v1/jobs", json=body), 422, "invalid_forget_spec")
        assert refused["detail"] == "the concept 'purple' appears in none of the prompts"
        queued = client.get("/v1/jobs", params={"limit": 100}).json()["data"]
        assert all(job["unsafe_concept"] != ["purple"] for job in queued)
        ok = client.post(
            "/v1/jobs",
            json={
                "model": "shapes",
                "unsafe_concept": "red",
                "safe_surrogate": "blue",
                "steps": 5,
            },
        )
        assert ok.status_code == 201, ok.text
        client.post(f"/v1/jobs/{ok.json()['id']}/cancel")


def test_wrong_content_type_is_415(sqlite_service: Service) -> None:
    with sqlite_service.client() as client:
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            response = client.post(
                "/v1/jobs",
                content=b'{"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1"}',
                headers={"Content-Type": content_type},
            )
            body = assert_problem(response, 415, "unsupported_media_type")
            assert "application/json" in body["detail"]


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"hyperparameters": {"batch_size": "big"}}, "hyperparameters.batch_size: must be"),
        (
            {"hyperparameters": {"batch_size": 3.5}},
            "hyperparameter batch_size must be a whole number",
        ),
        ({"hyperparameters": {"harden": 1}}, "hyperparameter harden must be true or false"),
        ({"unsafe_concept": None}, "unsafe_concept: must be a string or a list"),
        ({"unsafe_concept": "x" * 201}, "unsafe_concept: must be at most 200 characters"),
        ({"steps": "many"}, "steps: must be a whole number"),
        ({"seed": -1}, "seed: must be at least 0"),
        ({"bogus": 1}, "bogus: is not a field of this request"),
        ({"surrogate_mode": "sideways"}, "surrogate_mode: must be one of 'fixed' or 'random'"),
    ],
)
def test_validation_messages_are_worded_for_users(
    sqlite_service: Service, changes: dict, detail: str
) -> None:
    body = {"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1", **changes}
    with sqlite_service.client() as client:
        problem = assert_problem(client.post("/v1/jobs", json=body), 422)
    assert problem["detail"].startswith(detail), problem["detail"]
    for internal in (".bool", ".int", ".str", "body.", "Input should", "a int", "a float"):
        assert internal not in problem["detail"], problem["detail"]


def _tar_of_folder_contents(folder: Path) -> bytes:
    """What `tar -cf t.tar -C teacher .` makes: members named ``.`` and ``./...``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder, arcname=".")
    return buffer.getvalue()


def test_dot_slash_archives_are_accepted(
    sqlite_service: Service, teacher_dir: Path, tmp_path: Path
) -> None:
    data = _tar_of_folder_contents(teacher_dir)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames()[0] == "." and all(n.startswith("./") for n in tar.getnames()[1:])
    with sqlite_service.client() as client:
        response = client.post(
            "/v1/models",
            content=data,
            params={"name": "dot-slash"},
            headers={"Content-Type": "application/x-tar"},
        )
    assert response.status_code == 201, response.text
    # Escapes stay refused.
    (tmp_path / "evil.tar").write_bytes(b"")
    with tarfile.open(tmp_path / "evil.tar", "w") as tar:
        info = tarfile.TarInfo("./../config.json")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(Invalid, match="escapes"):
        archive.unpack(tmp_path / "evil.tar", tmp_path / "x", max_files=10, max_bytes=10)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_0005_makes_names_unique(
    backend: str, tmp_path: Path, pg_database: Callable[[], str]
) -> None:
    """Duplicates from before keep the oldest row's name (the others get their id appended);
    after it a tenant's duplicate name is refused by the database; down removes the rule."""
    url = pg_database() if backend == "postgres" else f"sqlite:///{tmp_path / 'sfd.db'}"
    upgrade(url, "0004_verdict")
    engine = sa.create_engine(url)
    insert = sa.text(
        "INSERT INTO base_models (id, tenant, name, source_type, source, sha256, kind, "
        "sample_shape, size_bytes, created_at) VALUES "
        "(:id, :tenant, :name, 'upload', '', 'x', 'class', '[1]', 0, CURRENT_TIMESTAMP)"
    )
    rows = [("acme", "m"), ("acme", "m"), ("acme", "m"), ("globex", "m"), ("acme", "n")]
    with engine.begin() as conn:
        for i, (tenant, name) in enumerate(rows):
            conn.execute(insert, {"id": f"model_{i}", "tenant": tenant, "name": name})
    upgrade(url)
    with engine.begin() as conn:
        names = dict(conn.execute(sa.text("SELECT id, name FROM base_models")).all())
    assert names == {
        "model_0": "m",
        "model_1": "m (model_1)",
        "model_2": "m (model_2)",
        "model_3": "m",
        "model_4": "n",
    }
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"id": "model_9", "tenant": "acme", "name": "n"})
    command.downgrade(alembic_config(url), "0004_verdict")
    with engine.begin() as conn:
        conn.execute(insert, {"id": "model_9", "tenant": "acme", "name": "n"})
    engine.dispose()
