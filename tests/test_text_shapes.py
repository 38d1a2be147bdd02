"""The bundled shapes teacher: its analytic evaluator, its plan, and a short real SFD run."""

from pathlib import Path

import pytest
import torch

from sfd_core.conditions import ForgetSpec
from sfd_core.config import SFDConfig
from sfd_core.loading import load_teacher
from sfd_core.text.evaluate import one_step_images
from sfd_core.text.generator import OneStepTextGenerator, load_generator, save_text_generator
from sfd_core.text.shapes import CAPTIONS, sample_batch
from sfd_core.text.shapes_eval import ShapesEvaluator, parse_prompt
from sfd_core.trainer import SFDTrainer

PER_PROMPT = 40
# A fast schedule for a test (the bench uses the defaults): measured here, the forget rate went
# from 100% to 0% within these 10 steps.
STEPS, BATCH, LR = 10, 16, 3e-4


@pytest.fixture(scope="module")
def evaluator() -> ShapesEvaluator:
    return ShapesEvaluator()


def test_evaluator_reads_colour_and_shape_of_real_images(evaluator: ShapesEvaluator) -> None:
    images, captions = sample_batch(600, torch.Generator().manual_seed(1))
    colour, shape = evaluator.read(images)
    want = torch.tensor([parse_prompt(CAPTIONS[i][0]) for i in captions.tolist()])
    assert (colour == want[:, 0]).all() and (shape == want[:, 1]).all()
    assert evaluator.read(torch.full((1, 3, 16, 16), -0.9))[0].item() == -1  # empty image


def test_short_run_on_the_toy_teacher_forgets_red(
    evaluator: ShapesEvaluator, tmp_path: Path
) -> None:
    teacher = load_teacher("shapes")
    assert teacher.kind == "text" and teacher.vae is None and len(teacher.prompts) == 12
    plan = teacher.plan(ForgetSpec.create("red", "blue"))
    table = teacher.prompt_table
    config = SFDConfig(
        steps=STEPS, batch_size=BATCH, lr_generator=LR, lr_fake_score=LR, ema_decay=0.0
    )
    trainer = SFDTrainer(teacher.denoiser, plan, config, teacher.sample_shape)
    cond = plan.forget_ids.repeat_interleave(PER_PROMPT)
    prompts = [table.prompts[i] for i in cond.tolist()]

    def forget_rate() -> float:
        images = one_step_images(teacher, trainer.ema, cond, config.sigma_init, seed=5)
        scores = evaluator.score(
            images, prompts, surrogate_for=table.surrogate_for, concepts=["red"]
        )
        return scores["forget_rate"]

    before = forget_rate()
    trainer.run()
    after = forget_rate()
    assert before >= 0.9 and after <= before - 0.5, (before, after)

    save_text_generator(trainer.ema, tmp_path, teacher, sigma_init=2.5, extra={})
    sampler = load_generator(tmp_path)
    assert isinstance(sampler, OneStepTextGenerator)
    images = sampler.generate(["a red circle", "a green square"], seed=0)
    assert images.shape == (2, 3, 16, 16)
