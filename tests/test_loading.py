"""Teachers load from every supported layout; pickle never loads."""

import json

import pytest
import torch
from diffusers import DDPMScheduler, EDMEulerScheduler

from sfd_core.denoisers import EDMPreconditioning, VPPreconditioning
from sfd_core.loading import ModelLoadError, folder_sha256, load_teacher
from tests.tiny_models import tiny_unet


def write_model_folder(folder, scheduler, metadata=None):
    unet = tiny_unet(num_classes=3)
    unet.save_pretrained(folder, safe_serialization=True)
    scheduler.save_config(folder)
    if metadata:
        (folder / "sfd_model.json").write_text(json.dumps(metadata))
    return unet


def test_model_folder_with_ddpm_scheduler_is_a_vp_teacher(tmp_path):
    unet = write_model_folder(tmp_path, DDPMScheduler(prediction_type="v_prediction"))
    teacher = load_teacher(tmp_path)
    assert isinstance(teacher.denoiser.preconditioning, VPPreconditioning)
    assert teacher.denoiser.preconditioning.prediction_type == "v_prediction"
    assert teacher.class_names == ["0", "1", "2"]
    assert teacher.sample_shape == (1, 8, 8)
    assert teacher.sha256 == folder_sha256(tmp_path)
    loaded = teacher.denoiser.network.state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in unet.state_dict().items())
    assert not any(p.requires_grad for p in teacher.denoiser.parameters())


def test_pipeline_folder_with_class_names_and_null_class(tmp_path):
    write_model_folder(tmp_path / "unet", EDMEulerScheduler())
    (tmp_path / "unet" / "scheduler_config.json").rename(tmp_path / "scheduler_config.json")
    (tmp_path / "scheduler").mkdir()
    (tmp_path / "scheduler_config.json").rename(tmp_path / "scheduler" / "scheduler_config.json")
    (tmp_path / "sfd_model.json").write_text(
        json.dumps({"class_names": ["cat", "dog"], "null_class": 2})
    )
    teacher = load_teacher(tmp_path)
    assert isinstance(teacher.denoiser.preconditioning, EDMPreconditioning)
    assert teacher.class_names == ["cat", "dog"] and teacher.null_id == 2


def test_safetensors_file_with_its_config(tmp_path):
    write_model_folder(tmp_path, DDPMScheduler())
    teacher = load_teacher(tmp_path / "diffusion_pytorch_model.safetensors")
    assert teacher.class_names == ["0", "1", "2"]


def test_pickle_weights_are_refused_without_being_read(tmp_path):
    bomb = tmp_path / "model.pt"
    bomb.write_bytes(b"not even read")
    with pytest.raises(ModelLoadError, match="pickle files are refused"):
        load_teacher(bomb)
    folder = tmp_path / "folder"
    folder.mkdir()
    write_model_folder(folder, DDPMScheduler())
    (folder / "diffusion_pytorch_model.safetensors").unlink()
    (folder / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelLoadError, match="pickle files are refused"):
        load_teacher(folder)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("missing", "not found"),
        ("no_scheduler", "no scheduler_config.json"),
        ("no_classes", "no class embeddings"),
        ("wrong_weights", "do not match config.json"),
    ],
)
def test_broken_models_get_one_line_errors(tmp_path, breakage, message):
    folder = tmp_path / "m"
    folder.mkdir()
    write_model_folder(folder, DDPMScheduler())
    if breakage == "missing":
        folder = tmp_path / "nowhere"
    elif breakage == "no_scheduler":
        (folder / "scheduler_config.json").unlink()
    elif breakage == "no_classes":
        config = json.loads((folder / "config.json").read_text())
        config["num_class_embeds"] = None
        (folder / "config.json").write_text(json.dumps(config))
    else:
        config = json.loads((folder / "config.json").read_text())
        config["block_out_channels"] = [8, 16]
        (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=message) as info:
        load_teacher(folder)
    assert "\n" not in str(info.value)


def test_broken_json_is_a_model_load_error(tmp_path):
    write_model_folder(tmp_path, DDPMScheduler())
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_teacher(tmp_path)
