"""The text-to-image denoiser: a ``UNet2DConditionModel`` conditioned on cached prompt embeddings.

Conditions are integer ids into a table of prompt embeddings (a buffer, so it follows the network
to its device and into copies). Classifier-free guidance happens inside :meth:`predict`:
``out = out_uncond + w (out_cond - out_uncond)``, where each prompt id names its own
unconditional id (the empty prompt, or a negative prompt). The guidance is applied to the
network output (epsilon or v), which is the same as applying it to x0 since the preconditioning
is affine in the output.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from transformers import PreTrainedTokenizerBase

from ..denoisers import Denoiser, Preconditioning


def encode_prompts(
    text_encoder: nn.Module, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str]
) -> Tensor:
    """``P x L x D`` embeddings, exactly as ``StableDiffusionPipeline.encode_prompt`` makes them."""
    ids = tokenizer(
        list(prompts),
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
    device = next(text_encoder.parameters()).device
    return text_encoder(ids.to(device))[0]


class PromptDenoiser(Denoiser):
    """A conditional UNet whose conditions are ids into ``prompt_embeds``, with CFG.

    ``uncond_ids[i]`` is the id whose embedding serves as prompt ``i``'s unconditional branch.
    A floating-point ``cond`` (``N x L x D``) is taken as the prompt embeddings themselves, with
    prompt 0's unconditional branch.
    ``guidance_scale == 1`` runs one network evaluation and no guidance.
    """

    def __init__(
        self,
        network: nn.Module,
        preconditioning: Preconditioning,
        prompt_embeds: Tensor,
        uncond_ids: Tensor,
        *,
        guidance_scale: float = 1.0,
        gradient_checkpointing: bool = False,
    ) -> None:
        super().__init__(network, preconditioning)
        self.register_buffer("prompt_embeds", prompt_embeds.detach())
        self.register_buffer("uncond_ids", uncond_ids.long())
        self.guidance_scale = guidance_scale
        self.gradient_checkpointing = gradient_checkpointing

    def set_prompts(self, prompt_embeds: Tensor, uncond_ids: Tensor) -> None:
        """Replace the prompt table (e.g. once a forget plan has fixed the prompts)."""
        device = self.prompt_embeds.device
        self.prompt_embeds = prompt_embeds.detach().to(device)
        self.uncond_ids = uncond_ids.long().to(device)

    def predict(self, x_in: Tensor, timestep: Tensor, cond: Tensor) -> Tensor:
        free = torch.is_floating_point(cond)  # free prompt embeddings (attack probes)
        embeds = (cond if free else self.prompt_embeds[cond]).to(x_in.dtype)
        if self.guidance_scale == 1.0:
            return self.network(x_in, timestep, encoder_hidden_states=embeds).sample
        uncond_ids = self.uncond_ids[:1].expand(len(cond)) if free else self.uncond_ids[cond]
        uncond = self.prompt_embeds[uncond_ids].to(x_in.dtype)
        both = self.network(
            torch.cat([x_in, x_in]),
            torch.cat([timestep, timestep]),
            encoder_hidden_states=torch.cat([uncond, embeds]),
        ).sample
        out_uncond, out_cond = both.chunk(2)
        return out_uncond + self.guidance_scale * (out_cond - out_uncond)

    def condition_table(self) -> Tensor:
        """The cached prompt embeddings (``P x L x D``)."""
        return self.prompt_embeds

    def trainable_copy(self) -> PromptDenoiser:
        clone = super().trainable_copy()
        if self.gradient_checkpointing:
            clone.network.enable_gradient_checkpointing()
        return clone

    def generator_copy(self) -> PromptDenoiser:
        """The one-step generator: trainable, and unguided (one network evaluation)."""
        clone = self.trainable_copy()
        clone.guidance_scale = 1.0
        return clone
