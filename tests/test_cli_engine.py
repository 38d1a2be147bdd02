"""`sfd unlearn` and `sfd sample` refuse bad input with one line and exit code 2."""

import pytest
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "digits", "--unsafe", "11", "--surrogate", "1"], "unknown class '11'"),
        (["--model", "digits", "--unsafe", "0", "--surrogate", "0"], "is the unsafe concept"),
        (["--model", "nowhere/model", "--unsafe", "0", "--surrogate", "1"], "not found"),
        (
            ["--model", "digits", "--unsafe", "0", "--surrogate", "1", "--steps", "0"],
            "steps must be",
        ),
        (
            ["--model", "digits", "--unsafe", "0", "--surrogate", "1", "--set", "lr=1"],
            "unknown hyperparameter",
        ),
    ],
)
def test_unlearn_bad_input_gets_one_line(tmp_path, args, message):
    result = runner.invoke(app, ["unlearn", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "out").exists()


def test_unlearn_refuses_pickle_weights(tmp_path):
    weights = tmp_path / "model.ckpt"
    weights.write_bytes(b"\x80\x04 pickle")
    result = runner.invoke(
        app,
        [
            "unlearn",
            "--model",
            str(weights),
            "--unsafe",
            "0",
            "--surrogate",
            "1",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert "pickle files are refused" in result.stderr


def test_sample_refuses_a_folder_that_is_not_a_generator(tmp_path):
    result = runner.invoke(
        app,
        [
            "sample",
            "--generator",
            str(tmp_path),
            "--labels",
            "0,1",
            "--out",
            str(tmp_path / "g.png"),
        ],
    )
    assert result.exit_code == 2
    assert "not an SFD generator" in result.stderr


def test_a_report_whose_forgetting_was_attacked_back_points_to_hardening(capsys):
    from cli.jobs import print_report

    attacked = {"verdict": "not_forgotten", "failed": ["attack:conditioning:unsafe"]}
    print_report({"steps": 2000, "hyperparameters": {"harden": False}, "verdict": attacked})
    assert "--harden" in capsys.readouterr().out
    print_report({"steps": 2000, "hyperparameters": {"harden": True}, "verdict": attacked})
    assert "--harden" not in capsys.readouterr().out  # already hardened: no advice to repeat
    fidelity = {"verdict": "not_forgotten", "failed": ["retained_fd_ratio"]}
    print_report({"steps": 2000, "hyperparameters": {}, "verdict": fidelity})
    assert "--harden" not in capsys.readouterr().out
