"""Jobs on two torchrun ranks (real processes, gloo): ``sfd unlearn --nproc 2`` writes a
loadable artifact, the launcher relays progress, checkpoints and a stop, and two torchrun agents
meet at a rendezvous endpoint as two hosts would (docs/DISTRIBUTED.md's multi-host command)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.server import free_port
from cli.main import app
from sfd_core import OneStepGenerator
from sfd_core.job import UnlearnRequest
from sfd_core.launch import RankError, run_distributed

QUICK = ["--probes", "off", "--eval-samples", "5", "--set", "batch_size=8"]


def training(events: list) -> list:
    """The progress events of training steps."""
    return [e for e in events if e.phase == "train"]


def test_unlearn_on_two_processes_writes_a_loadable_generator(tmp_path):
    out = tmp_path / "out"
    args = ["unlearn", "--model", "digits", "--unsafe", "0", "--surrogate", "1", "--steps", "3"]
    result = CliRunner().invoke(app, [*args, *QUICK, "--nproc", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["processes"] == 2 and report["steps"] == 3
    assert report["hyperparameters"]["shards"] == 2
    images = OneStepGenerator.from_pretrained(out / "generator").generate(["0", "1"], seed=0)
    assert images.shape == (2, 1, 8, 8)


def test_launcher_relays_progress_and_checkpoints_and_stops_the_ranks(tmp_path):
    request = UnlearnRequest(
        model="digits", unsafe=["0"], surrogate="1", steps=100, probes="off",
        hyperparameters={"batch_size": 4, "warmup_steps": 0},  # SFD from the first step
    )  # fmt: skip
    events, checkpoints = [], []
    result = run_distributed(
        request,
        tmp_path / "out",
        2,
        tmp_path / "control",
        on_progress=events.append,
        should_stop=lambda: len(training(events)) >= 2,
        checkpoint_dir=tmp_path / "checkpoint",
        checkpoint_every=1,
        on_checkpoint=checkpoints.append,
    )
    assert result.status == "stopped"
    assert 2 <= result.report["steps_done"] < 100
    trained = training(events)
    assert [e.step for e in trained] == list(range(1, len(trained) + 1))
    assert all("gen_retain" in e.losses for e in trained)
    # 400 warm-start samples (batch 4 x 100 steps): one progress event between the teacher's
    # two batches, first.
    assert [e.phase for e in events] == ["warmstart"] + ["train"] * len(trained)
    assert checkpoints and checkpoints[-1] == tmp_path / "checkpoint" / "checkpoint.safetensors"
    assert not (tmp_path / "out" / "generator").exists()


def test_a_rank_that_refuses_the_request_is_a_rank_error(tmp_path):
    request = UnlearnRequest(model="digits", unsafe=["0"], surrogate="1", steps=2, probes="off")
    request.hyperparameters = {"shards": 3, "batch_size": 6}  # 3 shards do not split over 2
    with pytest.raises(RankError) as refused:
        run_distributed(request, tmp_path / "out", 2, tmp_path / "control")
    assert refused.value.kind == "invalid_request"
    assert "multiple of the number of processes" in refused.value.message


def test_two_agents_meet_at_a_rendezvous_endpoint(tmp_path):
    request = {
        "model": "digits", "unsafe": ["0"], "surrogate": "1", "steps": 2, "probes": "off",
        "eval_samples_per_class": 2, "hyperparameters": {"batch_size": 4},
    }  # fmt: skip
    (tmp_path / "request.json").write_text(json.dumps(request))
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1",
        "--rdzv-backend=c10d", "--rdzv-id=sfd-test", f"--rdzv-endpoint=127.0.0.1:{free_port()}",
        "-m", "sfd_core.launch", "--request", str(tmp_path / "request.json"),
        "--control", str(tmp_path / "control"), "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    (tmp_path / "control").mkdir()
    repo = Path(__file__).resolve().parents[1]
    agents = [subprocess.Popen(command, cwd=repo) for _ in range(2)]  # one per "host"
    assert [agent.wait(timeout=1200) for agent in agents] == [0, 0]
    lines = (tmp_path / "control" / "events.jsonl").read_text().splitlines()
    result = json.loads(lines[-1])
    assert result["type"] == "result" and result["status"] == "succeeded"
    assert result["report"]["processes"] == 2
    assert (tmp_path / "out" / "generator").is_dir()
