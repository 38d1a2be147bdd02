"""A real SFD job on the bundled digits teacher: it forgets, keeps the rest, and its artifact
round-trips through stock diffusers."""

import json

import pytest
import torch
from diffusers import UNet2DModel

from sfd_core import OneStepGenerator
from sfd_core.conditions import ForgetSpec
from sfd_core.config import SFDConfig
from sfd_core.evaluation import EVALUATORS, frechet_distance
from sfd_core.job import UnlearnRequest, run_unlearning
from sfd_core.loading import folder_sha256, load_teacher
from sfd_core.presets import default_steps
from sfd_core.sampling import heun_sample
from sfd_core.trainer import SFDTrainer, one_step_generate

STEPS = 100


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = tmp_path_factory.mktemp("job")
    request = UnlearnRequest(
        model="digits",
        unsafe=["0"],
        surrogate="1",
        steps=STEPS,
        seed=0,
        hyperparameters={"batch_size": 32},
        eval_samples_per_class=50,
        probes="quick",
    )
    events = []
    result = run_unlearning(request, out, on_progress=events.append)
    return result, events


def test_short_run_forgets_the_class_and_keeps_the_others(job):
    result, _ = job
    report = result.report
    assert result.status == "succeeded"
    assert report["teacher"]["forget_rate"] > 0.9  # the teacher draws zeros ...
    assert report["forget_rate"] < 0.10  # ... the unlearned generator does not
    assert report["surrogate_rate"] > 0.8
    assert report["retained_accuracy"] >= report["teacher"]["retained_accuracy"] - 0.05
    assert report["nfe_generator"] == 1 and report["nfe_teacher"] == 35


def test_report_and_artifacts_are_written(job):
    result, events = job
    saved = json.loads((result.out_dir / "report.json").read_text())
    for key in (
        "forget_rate",
        "surrogate_rate",
        "retained_accuracy",
        "retained_fd",
        "diversity",
        "teacher",
        "steps",
        "wall_seconds",
        "nfe_teacher",
        "nfe_generator",
    ):
        assert key in saved
    assert saved["generator_sha256"] == folder_sha256(result.out_dir / "generator")
    assert saved["teacher_sha256"] == load_teacher("digits").sha256
    assert (result.out_dir / "samples.png").stat().st_size > 1000
    train_events = [e for e in events if e.phase == "train"]
    assert [e.step for e in train_events] == list(range(1, STEPS + 1))
    # 2048 warm-start samples in batches of 256: progress between the teacher's batches first.
    assert [e.phase for e in events[:3]] == ["warmstart"] * 3
    assert {e.phase for e in events} == {"warmstart", "train", "evaluate", "probe", "save"}


def test_a_job_spends_its_models_warm_start_share_hardened_or_not_unless_told_otherwise():
    def config(model: str = "digits", **hyperparameters) -> SFDConfig:
        request = UnlearnRequest(model, ["0"], steps=400, hyperparameters=hyperparameters)
        return request.config()

    assert (config().warmup_steps, config().warmup_pairs) == (392, 1638)  # 400 / 2000 of 8192
    assert config().warmup_forget_share == 0.25
    assert (config("shapes").warmup_steps, config("shapes").warmup_pairs) == (390, 1050)
    hardened = config(harden=True)
    assert (hardened.warmup_steps, hardened.harden_warmup_every) == (392, 2)  # the pool trains
    assert config(warmup_steps=7).warmup_steps == 7
    assert config("/models/a-users-teacher").warmup_steps == 0


def test_a_request_naming_no_steps_runs_its_models_default():
    default = UnlearnRequest("digits", ["0"])
    assert default.steps == default_steps("digits") == 2000
    assert (default.config().warmup_steps, default.config().warmup_pairs) == (1960, 8192)
    longer = UnlearnRequest("digits", ["0"], steps=8000).config()
    assert longer.warmup_pairs == 8192  # the preset's pairs at most
    assert UnlearnRequest("digits", ["0"], steps=40).config().warmup_pairs == 1024
    hardened = UnlearnRequest("digits", ["0"], hyperparameters={"harden": True})
    assert (hardened.steps, hardened.config().warmup_steps) == (2000, 1960)  # a hardened warm start
    assert UnlearnRequest("/models/a-users-teacher", ["0"]).steps == 400
    assert UnlearnRequest("digits", ["0"], steps=7).steps == 7


def test_report_carries_the_probes_and_a_verdict(job):
    result, _ = job
    saved = json.loads((result.out_dir / "report.json").read_text())
    robustness = saved["robustness"]
    assert robustness["budget"] == "quick" and robustness["seed"] == 0
    assert [a["start"] for a in robustness["attacks"]] == ["unsafe", "mean"]
    assert all(0 <= a["asr"] <= 1 and a["budget"]["steps"] == 25 for a in robustness["attacks"])
    assert robustness["relearning"]["steps"] == [0, 5]
    assert "SVM" in robustness["judge"]
    assert (result.out_dir / "robustness.png").stat().st_size > 1000
    verdict = saved["verdict"]
    assert verdict["verdict"] in ("forgotten", "not_forgotten")
    assert verdict["failed"] == [c["name"] for c in verdict["criteria"] if not c["passed"]]
    assert {"forget_rate", "retained_accuracy", "retained_fd_ratio"} <= {
        c["name"] for c in verdict["criteria"]
    }


def test_artifact_loads_in_stock_diffusers_and_samples_reproducibly(job):
    result, _ = job
    folder = result.out_dir / "generator"
    stock = UNet2DModel.from_pretrained(folder)
    generator = OneStepGenerator.from_pretrained(folder)
    ours = generator.denoiser.network.state_dict()
    assert all(torch.equal(v, ours[k]) for k, v in stock.state_dict().items())

    info = json.loads((folder / "sfd.json").read_text())
    assert info["sigma_init"] == 2.5 and info["forget"]["unsafe"] == ["0"]
    assert info["conditioning"]["class_names"] == [str(i) for i in range(10)]

    a = generator.generate(["0", "5", 7], seed=3)
    b = generator.generate([0, 5, 7], seed=3)
    c = generator.generate([0, 5, 7], seed=4)
    assert a.shape == (3, 1, 8, 8) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="unknown class"):
        generator.generate(["ten"])


def _distance_to_teacher(trainer, teacher, evaluator, reference):
    labels = torch.arange(10).repeat_interleave(30)
    noise = torch.randn((300, 1, 8, 8), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        images = one_step_generate(trainer.generator, noise, labels, 2.5).clamp(-1, 1)
    return frechet_distance(evaluator.features(images), reference)


@pytest.mark.parametrize(("sign", "closer"), [(1.0, True), (-1.0, False)])
def test_loss_sign_moves_the_generator_toward_the_teacher(sign, closer):
    """SiD's sign brings one-step samples closer to the teacher's; the flipped sign does not."""
    teacher = load_teacher("digits")
    evaluator = EVALUATORS["digits"]()
    labels = torch.arange(10).repeat_interleave(30)
    reference = evaluator.features(
        heun_sample(teacher.denoiser, labels, (1, 8, 8), generator=torch.Generator().manual_seed(6))
    )
    plan = teacher.plan(ForgetSpec.create("0", "1"))
    # Without the regression term, which pulls toward the teacher whatever the sign.
    config = SFDConfig(steps=40, batch_size=32, regression_weight=0.0)
    trainer = SFDTrainer(teacher.denoiser, plan, config, (1, 8, 8), seed=0)
    loss = trainer.generator_loss

    def signed(*args):
        value, finite = loss(*args)
        return sign * value, finite

    trainer.generator_loss = signed
    before = _distance_to_teacher(trainer, teacher, evaluator, reference)
    trainer.run()
    after = _distance_to_teacher(trainer, teacher, evaluator, reference)
    assert (after < before) is closer, (before, after)
