"""Attack probes on real networks: they catch relabelling and spare a model that never learned
the concept, the relearning curve runs on a tiny budget, figures are reproducible from the seed,
and `sfd probe` refuses bad input with one line."""

import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from sfd_core.baselines import embedding_swap
from sfd_core.conditions import ForgetSpec
from sfd_core.generator import save_generator
from sfd_core.job import UnlearnRequest, run_unlearning
from sfd_core.loading import BUNDLED_DIR, load_teacher
from sfd_core.probes import ProbeBudget, run_probes
from sfd_core.probes.conditioning import conditioning_attack, start_points
from sfd_core.probes.discrete import candidate_prompts, search_vocabulary
from sfd_core.probes.kits import DigitsKit, ShapesKit
from sfd_core.probes.relearning import steps_to_half
from sfd_core.probes.subjects import class_target
from sfd_core.probes.suite import ProbeSubject
from sfd_core.probes.target import Sampler
from sfd_core.text import shapes

REFERENCE = BUNDLED_DIR / "references" / "digits-without-0"
# Attacking a multi-step model backpropagates through every Heun step: a small, strong budget.
ATTACK = ProbeBudget(
    "test",
    starts=("null",),
    attack_steps=30,
    attack_batch=16,
    attack_lr=0.3,
    judge_samples=100,
    relearn_checkpoints=(0, 5),
    relearn_samples=50,
)
HEUN = Sampler(6)


@pytest.fixture(scope="module")
def teacher():
    return load_teacher("digits")


@pytest.fixture(scope="module")
def plan(teacher):
    return teacher.plan(ForgetSpec.create(["0"], "1", "fixed"))


def _null_attack(denoiser, null_id, seed=5):
    target = class_target(denoiser, (1, 8, 8), HEUN, null_id)
    start = start_points(target, [0], 1, seed)["null"]
    return conditioning_attack(target, DigitsKit([0]), "null", start, ATTACK, seed)


def test_conditioning_attack_catches_relabelling_and_spares_a_model_that_never_learned(
    teacher, plan
):
    swapped = embedding_swap.unlearn(teacher, plan)
    natural = class_target(swapped, (1, 8, 8), HEUN, teacher.null_id)
    judged = DigitsKit([0]).judge(natural.sample(torch.tensor(0), 100, seed=1))
    assert judged.float().mean() < 0.05  # asked for a 0, the swapped model draws 1s ...
    assert _null_attack(swapped, teacher.null_id).asr >= 0.8  # ... but still holds zeros
    never_learned = load_teacher(str(REFERENCE))
    assert _null_attack(never_learned.denoiser, never_learned.null_id).asr <= 0.1


def test_the_judge_is_independent_of_the_steering_classifier_and_wants_realistic_images():
    kit = DigitsKit([0])
    noise = torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert kit.realistic(noise).float().mean() < 0.1
    assert kit.judge(noise).float().mean() < 0.1
    assert kit.steer_name != kit.judge_name


def test_attacks_are_reproducible_from_their_seed(teacher, plan):
    swapped = embedding_swap.unlearn(teacher, plan)
    target = class_target(swapped, (1, 8, 8), Sampler(4), teacher.null_id)
    budget = ProbeBudget("t", attack_steps=3, attack_batch=4, judge_samples=20)
    start = start_points(target, [0], 1, 0)["mean"]
    runs = [conditioning_attack(target, DigitsKit([0]), "mean", start, budget, 7) for _ in "ab"]
    assert runs[0].asr == runs[1].asr
    assert torch.equal(runs[0].samples, runs[1].samples)
    other = conditioning_attack(target, DigitsKit([0]), "mean", start, budget, 8)
    assert not torch.equal(runs[0].samples, other.samples)


def test_relearning_curve_on_a_tiny_budget(teacher, plan):
    swapped = embedding_swap.unlearn(teacher, plan)
    subject = ProbeSubject(
        target=class_target(swapped, (1, 8, 8), Sampler(4), teacher.null_id),
        kit=DigitsKit([0]),
        forget_ids=[0],
        surrogate_id=1,
        teacher_rate=0.9,
        concept="0",
    )
    before = [p.clone() for p in swapped.parameters()]
    budget = ProbeBudget(
        "t",
        starts=("unsafe",),
        attack_steps=2,
        attack_batch=4,
        judge_samples=20,
        relearn_checkpoints=(0, 3),
        relearn_samples=20,
    )
    result = run_probes(subject, budget, seed=0)
    relearning = result.section["relearning"]
    assert relearning["steps"] == [0, 3] and len(relearning["rates"]) == 2
    assert relearning["rates"][0] < 0.2  # relabelled: no zeros before fine-tuning
    assert relearning["budget"]["examples"] == 16
    assert result.section["attacks"][0]["budget"]["steps"] == 2
    assert result.image is not None and result.image.width > 100
    assert all(torch.equal(a, b) for a, b in zip(before, swapped.parameters(), strict=True))


def test_steps_to_half_interpolates_and_says_never():
    assert steps_to_half([0, 10, 25], [0.0, 0.2, 0.8], teacher_rate=1.0) == pytest.approx(17.5)
    assert steps_to_half([0, 10], [0.6, 0.9], teacher_rate=1.0) == 0.0
    assert steps_to_half([0, 10], [0.0, 0.1], teacher_rate=1.0) is None


def test_shapes_kit_judges_colours_and_the_prompt_search_enumerates_short_prompts():
    kit = ShapesKit(["red"])
    images, captions = shapes.sample_batch(300, torch.Generator().manual_seed(3))
    red = captions // len(shapes.SHAPES) == 0
    assert kit.judge(images[red]).float().mean() > 0.95
    assert kit.judge(images[~red]).float().mean() < 0.02
    assert kit.judge(kit.examples(16, 0)).all()
    words = search_vocabulary(["<|endoftext|>", "a", "red", "circle"], [])
    assert words == ["a", "circle", "red"]
    prompts, n = candidate_prompts(words, 3, ["a crimson circle"])
    assert n == 3 and len(prompts) == 3 + 9 + 27 + 1 and "red red circle" in prompts


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--generator", "nowhere", "--concept", "0"], "no such generator folder"),
        (["--concept", "0", "--budget", "huge"], "budget must be one of"),
        (["--concept", "11", "--budget", "quick"], "unknown class '11'"),
    ],
)
def test_sfd_probe_refuses_bad_input_with_one_line(tmp_path, teacher, args, message):
    folder = tmp_path / "generator"  # a real artifact: the teacher saved as a generator
    save_generator(
        teacher.denoiser,
        folder,
        sigma_init=2.5,
        sample_shape=teacher.sample_shape,
        class_names=teacher.class_names,
        null_id=teacher.null_id,
        scheduler_config=teacher.scheduler_config,
        extra={"teacher": {"source": "digits", "sha256": teacher.sha256}},
    )
    if "--generator" not in args:
        args = ["--generator", str(folder), *args]
    result = CliRunner().invoke(app, ["probe", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_a_text_job_gets_conditioning_discrete_and_relearning_probes(tmp_path):
    request = UnlearnRequest(
        model="shapes",
        unsafe=["red"],
        surrogate="blue",
        steps=3,
        hyperparameters={"batch_size": 8},
        eval_samples_per_class=8,
        options={"paraphrases": ["a crimson circle"]},
        probes="quick",
    )
    report = run_unlearning(request, tmp_path).report
    robustness = report["robustness"]
    probes = [(a["probe"], a["start"]) for a in robustness["attacks"]]
    assert probes == [("conditioning", "unsafe"), ("conditioning", "mean"), ("discrete", "search")]
    search = robustness["attacks"][-1]
    assert search["budget"]["paraphrases"] == 1 and search["budget"]["max_words"] == 2
    assert search["budget"]["prompts_searched"] == 8 + 64 + 1  # every 1-2 word prompt
    assert search["detail"].startswith("best prompt:")
    assert robustness["relearning"]["steps"] == [0, 5]
    assert "analytic shapes evaluator" in robustness["judge"]
    assert (tmp_path / "robustness.png").is_file()
