"""Prompts of a text forget-request: find the concept, rewrite it, build the prompt table.

As the SFD authors do, each forget prompt's surrogate is the same prompt with every unsafe
concept replaced by its safe surrogate (case-insensitive, whole words). Forget prompts come from
a user list (those that mention a concept) or from templates around each concept; retain prompts
from a user list, the model's own prompt list, or :data:`GENERIC_RETAIN`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..conditions import ForgetPlan, ForgetSpec, ForgetSpecError

DEFAULT_TEMPLATES = (
    "a photo of {}",
    "a portrait of {}",
    "a painting of {}",
    "a close-up photo of {}",
    "{} in a city street",
    "{} at the beach",
    "a black and white photo of {}",
    "a drawing of {}",
)
GENERIC_RETAIN = (
    "a photo of a dog",
    "a photo of a cat",
    "a red sports car on a road",
    "a bowl of fruit on a table",
    "a mountain lake at sunrise",
    "a city skyline at night",
    "a portrait of a woman",
    "a portrait of an old man",
    "a child playing in a park",
    "a plate of pasta",
    "a lighthouse on a cliff",
    "a forest path in autumn",
    "an astronaut riding a horse",
    "a watercolor painting of flowers",
    "a living room with a sofa",
    "a bicycle leaning against a wall",
)


def _pattern(concept: str) -> re.Pattern[str]:
    """The concept as a whole phrase, any case (``red`` does not match ``colored``)."""
    return re.compile(rf"(?<!\w){re.escape(concept.strip())}(?!\w)", re.IGNORECASE)


def mentions(prompt: str, concept: str) -> bool:
    return _pattern(concept).search(prompt) is not None


def rewrite(prompt: str, concept: str, surrogate: str) -> str:
    """``prompt`` with every mention of ``concept`` replaced by ``surrogate`` (spaces tidied)."""
    return " ".join(_pattern(concept).sub(surrogate.strip(), prompt).split())


def clean_prompts(prompts: Sequence[str] | None, what: str) -> list[str] | None:
    if prompts is None:
        return None
    if isinstance(prompts, str):
        raise ForgetSpecError(f"{what} must be a list of prompts, not one string")
    cleaned = list(dict.fromkeys(" ".join(str(p).split()) for p in prompts))
    if not cleaned or not all(cleaned):
        raise ForgetSpecError(f"{what} is empty or holds an empty prompt")
    return cleaned


@dataclass
class PromptTable:
    """Every prompt a run needs, deduplicated; the plan's ids index ``prompts``."""

    prompts: list[str]
    plan: ForgetPlan
    concepts: list[str]
    negative_prompt: str | None
    uncond_ids: list[int]  # per prompt: the id of its unconditional (empty or negative) prompt

    @property
    def surrogate_for(self) -> dict[str, str]:
        """Forget prompt -> surrogate prompt."""
        return {
            self.prompts[int(f)]: self.prompts[int(s[0])]
            for f, s in zip(self.plan.forget_ids, self.plan.surrogate_ids, strict=True)
        }


def build_prompt_table(
    spec: ForgetSpec,
    *,
    prompts: Sequence[str] | None = None,
    retain_prompts: Sequence[str] | None = None,
    templates: Sequence[str] | None = None,
    negative_prompt: str | None = None,
    model_prompts: Sequence[str] | None = None,
) -> PromptTable:
    """Resolve a text forget spec into prompts and a :class:`ForgetPlan` over their ids.

    ``prompts`` are candidate prompts (default: ``model_prompts``, else ``templates`` filled
    with each concept); those mentioning a concept are forgotten. Retain prompts default to the
    model's other prompts, else :data:`GENERIC_RETAIN` minus any that mention a concept.
    """
    if spec.mode != "fixed":
        raise ForgetSpecError("text-to-image models need a fixed surrogate phrase per concept")
    pairs = [(u, s or "") for u, s in spec.pairs()]
    user_prompts = clean_prompts(prompts, "prompts")
    user_retain = clean_prompts(retain_prompts, "retain_prompts")
    user_templates = clean_prompts(templates, "templates")
    if user_templates is not None and not all("{}" in t for t in user_templates):
        raise ForgetSpecError("every template needs a '{}' where the concept goes")
    if user_prompts is not None:
        candidates = user_prompts
    elif user_templates is None and model_prompts:
        candidates = list(model_prompts)
    else:
        candidates = [t.format(u) for t in (user_templates or DEFAULT_TEMPLATES) for u, _ in pairs]
    for unsafe, _ in pairs:
        if not any(mentions(p, unsafe) for p in candidates):
            raise ForgetSpecError(f"the concept {unsafe!r} appears in none of the prompts")
    forget = [p for p in candidates if any(mentions(p, u) for u, _ in pairs)]
    surrogates = []
    for prompt in forget:
        for unsafe, surrogate in pairs:
            prompt = rewrite(prompt, unsafe, surrogate)
        surrogates.append(prompt)

    if user_retain is not None:
        for prompt in user_retain:
            if any(mentions(prompt, u) for u, _ in pairs):
                raise ForgetSpecError(f"the retain prompt {prompt!r} mentions a concept to forget")
        retain = user_retain
    else:
        pool = [p for p in candidates if p not in forget] if model_prompts else GENERIC_RETAIN
        retain = [p for p in pool if not any(mentions(p, u) for u, _ in pairs)]
    if not retain:
        raise ForgetSpecError("no retain prompts are left: give retain_prompts")

    table: list[str] = []
    index: dict[str, int] = {}

    def add(prompt: str) -> int:
        if prompt not in index:
            index[prompt] = len(table)
            table.append(prompt)
        return index[prompt]

    retain_ids = [add(p) for p in retain]
    forget_ids = [add(p) for p in forget]
    surrogate_ids = [add(p) for p in surrogates]
    null_id = add("")
    negative_id = add(negative_prompt.strip()) if negative_prompt else null_id
    uncond_ids = [null_id] * len(table)
    for sid in surrogate_ids:
        uncond_ids[sid] = negative_id  # the negative prompt steers the teacher's surrogate score
    plan = ForgetPlan(
        retain_ids=torch.tensor(retain_ids),
        forget_ids=torch.tensor(forget_ids),
        surrogate_ids=[torch.tensor([s]) for s in surrogate_ids],
        null_id=null_id,
        names=dict(enumerate(table)),
    )
    return PromptTable(table, plan, [u for u, _ in pairs], negative_prompt, uncond_ids)
