"""The text-to-image teacher: an SD-format model whose conditions are prompt ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from transformers import PreTrainedTokenizerBase

from ..conditions import ForgetPlan, ForgetSpec, ForgetSpecError
from ..config import SFDConfig
from ..teachers import Teacher
from .adapter import PromptDenoiser, encode_prompts
from .prompts import PromptTable, build_prompt_table, clean_prompts

DECODE_BATCH = 16
PLAN_OPTIONS = ("prompts", "retain_prompts", "templates", "negative_prompt", "paraphrases")


@dataclass
class TextToImageTeacher(Teacher):
    """A frozen ``UNet2DConditionModel`` with its frozen text encoder, tokenizer and VAE.

    :meth:`plan` fixes the run's prompts and caches their embeddings in the denoiser once;
    ``vae`` is None for pixel-space models.
    """

    text_encoder: nn.Module | None = None
    tokenizer: PreTrainedTokenizerBase | None = None
    vae: nn.Module | None = None
    prompts: list[str] = field(default_factory=list)  # the model's own prompt list, if any
    evaluator: str | None = None
    prompt_table: PromptTable | None = None
    paraphrases: list[str] = field(default_factory=list)  # extra prompts the probes try
    kind: str = "text"

    @property
    def prompt_denoiser(self) -> PromptDenoiser:
        assert isinstance(self.denoiser, PromptDenoiser)
        return self.denoiser

    @torch.no_grad()
    def encode(self, prompts: Sequence[str]) -> Tensor:
        return encode_prompts(self.text_encoder, self.tokenizer, prompts)

    def plan(self, spec: ForgetSpec, **options: Any) -> ForgetPlan:
        unknown = sorted(set(options) - set(PLAN_OPTIONS))
        if unknown:
            accepted = ", ".join(PLAN_OPTIONS)
            raise ForgetSpecError(
                f"unknown option(s) {', '.join(unknown)}; text models take {accepted}"
            )
        options = dict(options)
        self.paraphrases = clean_prompts(options.pop("paraphrases", None), "paraphrases") or []
        table = build_prompt_table(spec, model_prompts=self.prompts, **options)
        self.prompt_denoiser.set_prompts(self.encode(table.prompts), torch.tensor(table.uncond_ids))
        self.prompt_table = table
        return table.plan

    def configure(self, config: SFDConfig) -> None:
        self.prompt_denoiser.guidance_scale = config.guidance_scale
        self.prompt_denoiser.gradient_checkpointing = config.gradient_checkpointing

    def decode(self, samples: Tensor) -> Tensor:
        if self.vae is None:
            return samples.clamp(-1, 1)
        scale = self.vae.config.scaling_factor
        device = next(self.vae.parameters()).device
        images = [
            self.vae.decode(chunk.to(device) / scale).sample.clamp(-1, 1).cpu()
            for chunk in samples.split(DECODE_BATCH)
        ]
        return torch.cat(images)
