"""Finding 4: a model's size is computed from its config on the meta device before any weight
is allocated. The review's 686 KB upload whose config asks for [1024, 1024] channels made the
API allocate 1.1 GB; now it is refused while the process stays small."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from .support import Service, assert_problem

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, resource, sys
from domain.base_models.service import _describe
from domain.errors import Invalid
from domain.settings import Settings
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    _describe(Settings(home=sys.argv[2]), __import__("pathlib").Path(sys.argv[1]))
    outcome = "accepted"
except Invalid as exc:
    outcome = exc.code + ": " + exc.detail
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "grew_kib": peak - base}))
"""


def _variant(teacher_dir: Path, out: Path, **changes: object) -> Path:
    """The test teacher with its config (and class names) changed; weights left as they are."""
    folder = out / "model"
    files = {p.relative_to(teacher_dir): p for p in teacher_dir.rglob("*") if p.is_file()}
    for relative, source in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    config_file = next(folder.rglob("config.json"))
    config = json.loads(config_file.read_text())
    class_names = changes.pop("class_names", None)
    config.update(changes)
    config_file.write_text(json.dumps(config))
    if class_names is not None:
        (folder / "sfd_model.json").write_text(json.dumps({"class_names": class_names}))
    return folder


def _tar(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(folder, arcname="model")
    return buffer.getvalue()


def test_the_review_upload_is_refused_before_allocation(teacher_dir: Path, tmp_path: Path) -> None:
    config = json.loads(next(teacher_dir.rglob("config.json")).read_text())
    blocks = len(config["block_out_channels"])
    folder = _variant(teacher_dir, tmp_path, block_out_channels=[1024] * blocks)
    assert sum(p.stat().st_size for p in folder.rglob("*")) < 4 << 20  # a small upload
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder), str(tmp_path / "home")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["outcome"].startswith("model_too_large"), result
    assert "parameters exceed" in result["outcome"]
    assert result["grew_kib"] < 100 * 1024, result  # not the 1.1 GB the network would take


LIMITED = [
    ({"sample_size": 1_000_000}, "sample_size"),
    ({"class_names": [f"c{i}" for i in range(100_000)]}, "class names"),
    ({"num_class_embeds": 1_000_000}, "num_class_embeds"),
    ({"block_out_channels": [100_000]}, "block_out_channels"),
    ({"layers_per_block": 1_000_000}, "layers"),
]


@pytest.mark.parametrize(("changes", "named"), LIMITED, ids=[n for _, n in LIMITED])
def test_config_limits_over_the_api(
    sqlite_service: Service, teacher_dir: Path, tmp_path: Path, changes: dict, named: str
) -> None:
    folder = _variant(teacher_dir, tmp_path, **changes)
    with sqlite_service.client() as client:
        response = client.post(
            "/v1/models", content=_tar(folder), headers={"Content-Type": "application/x-tar"}
        )
    problem = assert_problem(response, 422, "model_too_large")
    assert named in problem["detail"] and str(sqlite_service.settings.home) not in problem["detail"]
