"""Train the bundled ``shapes`` teacher: a tiny text-to-image diffusion model in pixel space.

A ``UNet2DConditionModel`` (EDM preconditioning, cross-attention at 8x8) and a ``CLIPTextModel``
over a word-level tokenizer of the caption vocabulary are trained jointly on
:mod:`~sfd_core.text.shapes` (a random frozen encoder gives near-identical embeddings for
different prompts); ``PROMPT_DROPOUT`` of the captions are replaced by the empty prompt so the
model also predicts unconditionally (classifier-free guidance).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import torch
from diffusers import EDMEulerScheduler, UNet2DConditionModel
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from torch import Tensor
from tqdm import tqdm
from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedTokenizerFast

from ..denoisers import EDMPreconditioning
from .adapter import encode_prompts
from .shapes import CAPTIONS, COLOURS, SHAPES, SIZE, sample_batch

BOS, EOS, UNK = "<|startoftext|>", "<|endoftext|>", "<unk>"
MAX_LENGTH = 8
SIGMA_DATA = 0.5
P_MEAN, P_STD = -1.2, 1.2
PROMPT_DROPOUT = 0.1


@dataclass
class ShapesTrainingConfig:
    steps: int = 900
    batch_size: int = 128
    lr: float = 1e-3
    warmup_steps: int = 100
    ema: float = 0.99
    seed: int = 0


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer (lower-cased, CLIP's special tokens, padded with ``EOS``)."""
    words = [EOS, BOS, UNK, "a", *COLOURS, *SHAPES]
    vocab = {word: i for i, word in enumerate(words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=EOS,
        unk_token=UNK,
        model_max_length=MAX_LENGTH,
    )


def build_text_encoder(vocab_size: int) -> CLIPTextModel:
    """Hidden size 32, 2 layers, 2 heads (~18k parameters)."""
    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=MAX_LENGTH,
        bos_token_id=1,
        eos_token_id=0,
        pad_token_id=0,
    )
    return CLIPTextModel(config)


def build_unet() -> UNet2DConditionModel:
    """16x16 -> 8x8, 32/64 channels, cross-attention at 8x8 (~985k parameters)."""
    return UNet2DConditionModel(
        sample_size=SIZE,
        in_channels=3,
        out_channels=3,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def edm_scheduler() -> EDMEulerScheduler:
    return EDMEulerScheduler(sigma_data=SIGMA_DATA, prediction_type="epsilon")


def _edm_loss(
    unet: UNet2DConditionModel, x0: Tensor, embeds: Tensor, rng: torch.Generator
) -> Tensor:
    sigma = (torch.randn(len(x0), generator=rng) * P_STD + P_MEAN).exp()
    noise = torch.randn(x0.shape, generator=rng)
    s = sigma[:, None, None, None]
    precond = EDMPreconditioning(SIGMA_DATA)
    x = x0 + s * noise
    x_in, timestep = precond.network_inputs(x, sigma)
    denoised = precond.denoised(x, sigma, unet(x_in, timestep, embeds).sample)
    weight = (s**2 + SIGMA_DATA**2) / (s * SIGMA_DATA) ** 2
    return (weight * (denoised - x0).square()).flatten(1).sum(1).mean()


@torch.no_grad()
def _update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - decay)


def train_shapes(
    config: ShapesTrainingConfig,
) -> tuple[UNet2DConditionModel, CLIPTextModel, PreTrainedTokenizerFast, dict]:
    """Train jointly; return the EMA UNet and text encoder, the tokenizer and a summary."""
    torch.manual_seed(config.seed)
    rng = torch.Generator().manual_seed(config.seed)
    tokenizer = build_tokenizer()
    text_encoder = build_text_encoder(tokenizer.vocab_size)
    unet = build_unet()
    ema_unet = copy.deepcopy(unet).requires_grad_(False)
    ema_text = copy.deepcopy(text_encoder).requires_grad_(False)
    prompts = [c[0] for c in CAPTIONS] + [""]  # the empty prompt is the last one
    params = [*unet.parameters(), *text_encoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=config.lr, betas=(0.9, 0.999))
    warmup = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / config.warmup_steps)
    )
    start, running = time.time(), None
    for step in (bar := tqdm(range(config.steps), desc="shapes teacher")):
        images, captions = sample_batch(config.batch_size, rng)
        drop = torch.rand(config.batch_size, generator=rng) < PROMPT_DROPOUT
        captions = torch.where(drop, len(prompts) - 1, captions)
        table = encode_prompts(text_encoder, tokenizer, prompts)
        loss = _edm_loss(unet, images, table[captions], rng)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        warmup.step()
        _update_ema(ema_unet, unet, config.ema)
        _update_ema(ema_text, text_encoder, config.ema)
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{running:.4f}")
    summary = {
        **asdict(config),
        "wall_seconds": round(time.time() - start, 1),
        "final_loss": round(running, 4),
    }
    return ema_unet.eval(), ema_text.eval(), tokenizer, summary
