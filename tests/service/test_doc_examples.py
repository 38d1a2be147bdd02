"""Issue 13: the README's and docs/API.md's examples run, so they cannot drift from the code.

Every fenced ``sh`` and ``python`` block is cut into commands and run in document order, in a
fresh folder, against a real server on a free port (its admin key in ``.sfd/admin.key``, as
``sfd serve`` leaves it). Placeholders become real objects: ``job_01a2...``, ``$JOB`` and
``JOB`` a succeeded job (a queued one for cancels), ``key_01a2...`` and ``KEY_ID`` a fresh key
each time, ``path/to`` a folder holding a teacher. ``curl`` fails on an HTTP error status. The
few commands that cannot run here are listed in ``NOT_RUN`` with the reason, and each entry must
still match an example."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from worker.execute import execute_job

from .support import ENGINE_HP, Service, start_service, submit

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "docs/API.md")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
DOC_URL = "http://127.0.0.1:8000"
NOT_RUN = {
    r"^make (demo|test)": "the whole demo or test suite (make demo runs in CI)",
    r"sfd serve": "starts a second server; this test's server is already running",
    r"sfd unlearn": "a 2000-step engine run (tests/test_cli_engine.py runs the command)",
    r"sfd probe": "a full attack suite (tests/test_probes.py)",
    r"sfd demo": "a whole demo run",
    r"--wait": "follows a 400-step job to its end",
    r"sfd signing-key rotate": "would change the signing key of the server under test",
    r"s3://": "needs an S3 store (tests/service/test_model_uris.py)",
    r"/srv/models": "needs SFD_MODEL_ROOTS (tests/service/test_first_hour.py)",
    r"-X DELETE": "deletes what later examples use (tests/service/test_retention.py)",
    r"/v1/webhooks": "needs a public receiver URL (tests/service/test_webhooks.py)",
}


def _blocks(doc: str) -> Iterator[tuple[str, str]]:
    for match in FENCE.finditer((ROOT / doc).read_text()):
        yield match.group(1), match.group(2)


def _split(block: str) -> list[str]:
    """Shell commands: comments dropped, ``\\``-continued lines and quoted newlines joined,
    ``;`` lists split (enough shell for the docs' examples)."""
    commands, current, quote, i = [], "", "", 0
    while i < len(block):
        char = block[i]
        if quote:
            quote = "" if char == quote else quote
            current += " " if char == "\n" else char
        elif char in "'\"":
            quote, current = char, current + char
        elif char == "#" and (not current or current[-1].isspace()):
            i = block.find("\n", i)
            i = len(block) if i < 0 else i
            continue
        elif char == "\\" and block[i + 1 : i + 2] == "\n":
            i += 2
            continue
        elif char in ";\n":
            commands.append(current.strip())
            current = ""
        else:
            current += char
        i += 1
    return [c for c in [*commands, current.strip()] if c]


@pytest.fixture(scope="module")
def doc_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, str]]:
    """A server that only queues (no runner), and one job run to success in this process."""
    home = tmp_path_factory.mktemp("docs-home")
    service = start_service(home, f"sqlite:///{home / 'sfd.db'}", runner="none")
    with service.client() as admin:
        job = submit(admin, steps=10, hyperparameters=ENGINE_HP, metadata={"ticket": "DSR-1042"})
    assert execute_job(job["id"], service.settings) == "succeeded"
    yield service, job["id"]
    service.server.stop()


class Runner:
    """Runs one document's commands in its own folder, carrying the shell's variables."""

    def __init__(self, service: Service, job_id: str, folder: Path, teacher: Path) -> None:
        self.service, self.job_id, self.folder = service, job_id, folder
        (folder / ".sfd").mkdir(parents=True)
        (folder / ".sfd" / "admin.key").write_text(service.admin_key)
        (folder / ".venv").symlink_to(Path(sys.executable).parent.parent)
        shutil.copytree(teacher, folder / "path" / "to" / "teacher")
        with tarfile.open(folder / "teacher.tar", "w") as archive:  # the README uploads one
            archive.add(teacher, arcname="teacher")
        with service.client() as admin:
            (folder / "service.pub").write_text(
                "".join(k["public_key_pem"] for k in admin.get("/v1/signing-keys").json()["data"])
            )
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SFD_")}
        self.env = clean | {
            "HOME": str(folder),
            "SFD_CONFIG": str(folder / "config.toml"),
            "PATH": f"{Path(sys.executable).parent}:{clean['PATH']}",
            "JOB": job_id,
        }
        self._prepare_artifacts()

    def _prepare_artifacts(self) -> None:
        """``out/`` and ``certificate.json``, as the examples before them would leave them."""
        service = self.service
        done = self.run(
            f"sfd download {self.job_id} --out out/ --url {service.url} "
            f"--api-key {service.admin_key}"
        )
        assert done.returncode == 0, done.stdout
        with self.service.client() as admin:
            certificate = admin.get(f"/v1/jobs/{self.job_id}/certificate")
        (self.folder / "certificate.json").write_bytes(certificate.content)

    def _fresh_key(self) -> str:
        with self.service.client() as admin:
            made = admin.post("/v1/api_keys", json={"name": "doc", "scopes": ["jobs:read"]})
        return made.json()["id"]

    def _queued_job(self) -> str:
        with self.service.client() as admin:
            return submit(admin)["id"]

    def prepare(self, command: str) -> tuple[str, dict[str, str]]:
        """The command with its placeholders filled in, and its environment."""
        env = dict(self.env)
        job = self._queued_job() if "cancel" in command else self.job_id
        env["JOB"] = job
        command = command.replace(DOC_URL, self.service.url)
        command = command.replace("job_01a2...", job)
        command = re.sub(r"(?<![$\w])JOB\b", job, command)
        while "key_01a2..." in command or re.search(r"\bKEY_ID\b", command):
            fresh = self._fresh_key()
            command = command.replace("key_01a2...", fresh, 1)
            command = re.sub(r"\bKEY_ID\b", fresh, command, count=1)
        command = re.sub(r"^curl ", "curl --fail-with-body --max-time 120 ", command)
        return command, env

    def run(self, command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run ``command`` in bash; keep what it exported for the next one."""
        saved = self.folder / ".env"
        script = f'{command}\n__rc=$?\nenv -0 > "{saved}"\nexit $__rc\n'
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=self.folder,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if saved.exists():
            pairs = (item.partition("=") for item in saved.read_text().split("\0") if item)
            self.env = {k: v for k, _, v in pairs if k != "JOB"} | {"JOB": self.job_id}
        done.stdout += done.stderr
        return done


def test_every_shell_and_python_example_runs(
    doc_service: tuple[Service, str], teacher_dir: Path, tmp_path: Path
) -> None:
    service, job_id = doc_service
    skipped: set[str] = set()
    ran = 0
    for doc in DOCS:
        runner = Runner(service, job_id, tmp_path / doc.replace("/", "-"), teacher_dir)
        for language, block in _blocks(doc):
            assert language in ("sh", "python", "json", ""), f"{doc}: a {language} block"
            if language == "python":
                done = subprocess.run(
                    [sys.executable, "-c", block],
                    cwd=runner.folder,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert done.returncode == 0, f"{doc}:\n{block}\n{done.stderr}"
                ran += 1
                continue
            if language != "sh":
                continue
            for command in _split(block):
                reasons = [pattern for pattern in NOT_RUN if re.search(pattern, command)]
                if reasons:
                    skipped.update(reasons)
                    continue
                filled, env = runner.prepare(command)
                done = runner.run(filled, env)
                assert done.returncode == 0, f"{doc}: {command}\n{filled}\n{done.stdout}"
                ran += 1
    assert skipped == set(NOT_RUN), f"NOT_RUN entries no example needs: {set(NOT_RUN) - skipped}"
    assert ran >= 60, ran
    with httpx.Client(base_url=service.url) as client:
        assert client.get("/healthz").status_code == 200
