"""Stable Diffusion folders end to end: a tiny random pipeline is loaded, unlearned for a few
SFD steps, and its artifact loads in stock diffusers and samples in one UNet evaluation."""

import json
from pathlib import Path

import pytest
import torch
from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

from sfd_core.conditions import ForgetSpec
from sfd_core.config import SFDConfig
from sfd_core.denoisers import VPPreconditioning
from sfd_core.job import UnlearnRequest, run_unlearning
from sfd_core.loading import ModelLoadError, load_teacher
from sfd_core.text.generator import OneStepTextGenerator
from sfd_core.trainer import SFDTrainer
from tests.text_tiny_sd import tiny_sd_folder

OPTIONS = {
    "templates": ["a photo of {}", "{} on a stage"],
    "retain_prompts": ["a photo of a dog", "a red car"],
    "negative_prompt": "blurry",
}


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_sd_folder(tmp_path_factory.mktemp("sd") / "pipeline")


def test_unlearning_job_writes_a_one_step_pipeline(sd_folder: Path, tmp_path: Path) -> None:
    request = UnlearnRequest(
        model=str(sd_folder),
        unsafe=["Brad Pitt"],
        surrogate="a middle aged man",
        steps=2,
        hyperparameters={"batch_size": 2, "guidance_scale": 4.5, "cond_dropout": 0.1, "alpha": 1.0},
        options=OPTIONS,
        eval_samples_per_class=2,
    )
    result = run_unlearning(request, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert result.status == "succeeded" and report["steps"] == 2
    assert report["prompts"]["forget"] == ["a photo of Brad Pitt", "Brad Pitt on a stage"]
    assert report["prompts"]["surrogate"][0] == "a photo of a middle aged man"
    assert report["nfe_generator"] == 1 and report["nfe_teacher"] == 70  # Heun-18, guided
    assert report["evaluator"] is None  # no analytic evaluator for a user model
    assert (tmp_path / "samples.png").is_file()

    generator_dir = tmp_path / "generator"
    stock = StableDiffusionPipeline.from_pretrained(generator_dir, use_safetensors=True)
    assert stock.vae is not None and stock.unet.config.sample_size == 8
    sampler = OneStepTextGenerator.from_pretrained(generator_dir)
    calls = []
    sampler.pipeline.unet.register_forward_hook(lambda *args: calls.append(1))
    images = sampler.generate(["a photo of Brad Pitt", "a red car"], seed=3)
    assert images.shape == (2, 3, 16, 16) and len(calls) == 1
    assert images.abs().max() <= 1
    torch.testing.assert_close(sampler.generate(["a photo of Brad Pitt"], seed=3), images[:1])
    # Stock diffusers alone, one Euler step from sigma_init to 0, gives the same latents.
    stock.scheduler = EulerDiscreteScheduler.from_config(
        stock.scheduler.config, timestep_spacing="trailing"
    )
    noise = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(3))
    latents = stock(
        "a photo of Brad Pitt",
        sigmas=[2.5, 0.0],
        guidance_scale=1.0,
        latents=noise,
        height=16,
        width=16,
        output_type="latent",
    ).images
    torch.testing.assert_close(latents, sampler.latents(["a photo of Brad Pitt"], seed=3))
    info = json.loads((generator_dir / "sfd.json").read_text())
    assert info["forget"]["unsafe"] == ["Brad Pitt"] and info["sigma_init"] == 2.5


def test_v_prediction_teacher_trains(tmp_path: Path) -> None:
    folder = tiny_sd_folder(tmp_path / "v", prediction_type="v_prediction")
    teacher = load_teacher(folder)
    assert isinstance(teacher.denoiser.preconditioning, VPPreconditioning)
    assert teacher.denoiser.preconditioning.prediction_type == "v_prediction"
    plan = teacher.plan(ForgetSpec.create("Brad Pitt", "a man"), **OPTIONS)
    config = SFDConfig(steps=2, batch_size=2, guidance_scale=2.0, gradient_checkpointing=True)
    teacher.configure(config)
    trainer = SFDTrainer(teacher.denoiser, plan, config, teacher.sample_shape)
    assert trainer.generator.network.is_gradient_checkpointing
    losses = trainer.train_step()
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())


def test_non_sd_folders_get_one_line_errors(sd_folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    with pytest.raises(ModelLoadError, match="unsupported pipeline 'FluxPipeline'"):
        load_teacher(other)

    broken = tmp_path / "broken"
    broken.mkdir()
    index = json.loads((sd_folder / "model_index.json").read_text())
    (broken / "model_index.json").write_text(json.dumps({**index, "text_encoder": [None, None]}))
    with pytest.raises(ModelLoadError, match="no text_encoder in model_index.json") as error:
        load_teacher(broken)
    assert "\n" not in str(error.value)

    index_only = tmp_path / "index_only"
    index_only.mkdir()
    (index_only / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ModelLoadError, match="there is no unet/"):
        load_teacher(index_only)
