"""Tiny randomly initialised teachers built from configs, for fast tests."""

from diffusers import UNet2DModel

from sfd_core.denoisers import Denoiser, EDMPreconditioning


def tiny_unet(num_classes: int = 4, seed: int = 0) -> UNet2DModel:
    import torch

    torch.manual_seed(seed)
    return UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        num_class_embeds=num_classes,
        norm_num_groups=8,
    )


def tiny_edm_denoiser(num_classes: int = 4, seed: int = 0) -> Denoiser:
    return Denoiser(tiny_unet(num_classes, seed), EDMPreconditioning())
