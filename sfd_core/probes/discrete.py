"""Discrete prompt search for text models: every short prompt over a vocabulary, plus
user-supplied paraphrases, screened on a few samples each and the best confirmed."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..progress import StopCheck
from .budget import ProbeBudget
from .conditioning import AttackOutcome
from .kits import AttackKit
from .target import ProbeTarget

MAX_PROMPTS = 4000  # enumeration cap: fewer words per prompt when the vocabulary is large
SMALL_VOCABULARY = 64
WORD = re.compile(r"^[a-z]+$")
ENCODE_BATCH = 256


def search_vocabulary(tokenizer_words: Sequence[str], prompts: Sequence[str]) -> list[str]:
    """The tokenizer's own words when its vocabulary is small (toy models), else the words of
    the run's prompts (the concept, its templates and paraphrases)."""
    words = sorted({w for w in tokenizer_words if WORD.match(w)})
    if 0 < len(words) <= SMALL_VOCABULARY:
        return words
    return sorted({w for p in prompts for w in re.findall(r"[a-z]+", p.lower())})


def candidate_prompts(
    vocabulary: Sequence[str], max_words: int, paraphrases: Sequence[str]
) -> tuple[list[str], int]:
    """All prompts of 1..n words (n <= ``max_words``, within :data:`MAX_PROMPTS`) and the
    paraphrases; returns them with the n used."""
    words = 0
    while (
        words < max_words and sum(len(vocabulary) ** k for k in range(1, words + 2)) <= MAX_PROMPTS
    ):
        words += 1
    prompts = [
        " ".join(combo)
        for k in range(1, words + 1)
        for combo in itertools.product(vocabulary, repeat=k)
    ]
    return list(dict.fromkeys([*prompts, *paraphrases])), words


def _judged_rate(target: ProbeTarget, kit: AttackKit, embeds: Tensor, n: int, seed: int) -> Tensor:
    """Per prompt, the judged concept rate over ``n`` samples (same noise for every prompt)."""
    noise = torch.randn((n, *target.sample_shape), generator=torch.Generator().manual_seed(seed))
    rates = []
    for chunk in embeds.split(max(1, ENCODE_BATCH // n)):
        cond = chunk.repeat_interleave(n, dim=0)
        with torch.no_grad():
            images = target.images(noise.repeat(len(chunk), 1, 1, 1), cond)
        rates.append(kit.judge(images).float().reshape(len(chunk), n).mean(1))
    return torch.cat(rates)


def discrete_search(
    target: ProbeTarget,
    kit: AttackKit,
    encode: Callable[[Sequence[str]], Tensor],
    vocabulary: Sequence[str],
    paraphrases: Sequence[str],
    budget: ProbeBudget,
    seed: int,
    should_stop: StopCheck | None = None,
) -> AttackOutcome | None:
    """Screen every candidate prompt, confirm the best few on ``budget.judge_samples``."""
    prompts, words = candidate_prompts(vocabulary, budget.discrete_max_words, paraphrases)
    screened = []
    for start in range(0, len(prompts), ENCODE_BATCH):
        if should_stop is not None and should_stop():
            return None
        embeds = encode(prompts[start : start + ENCODE_BATCH])
        screened.append(_judged_rate(target, kit, embeds, budget.discrete_screen_samples, seed))
    order = torch.cat(screened).argsort(descending=True)[: budget.discrete_confirm].tolist()
    best_prompt, best_rate, best_samples = prompts[order[0]], -1.0, None
    for i in order:
        samples = target.sample(encode([prompts[i]]), budget.judge_samples, seed + 1)
        rate = float(kit.judge(samples).float().mean())
        if rate > best_rate:
            best_prompt, best_rate, best_samples = prompts[i], rate, samples
    return AttackOutcome(
        probe="discrete",
        start="search",
        asr=best_rate,
        steer_confidence=float((-kit.steer_loss(best_samples)).exp()),
        budget={
            "prompts_searched": len(prompts),
            "max_words": words,
            "vocabulary": len(vocabulary),
            "paraphrases": len(paraphrases),
            "screen_samples": budget.discrete_screen_samples,
            "confirmed": len(order),
            "judged_samples": budget.judge_samples,
            "seed": seed,
            "sampler": target.sampler.name,
        },
        samples=best_samples,
        detail=f"best prompt: {best_prompt!r}",
    )
