"""The analytic evaluator of the ``shapes`` teacher: colour and shape read from pixels.

Foreground coverage is the brightest channel's rise above the background. The colour is the
palette entry nearest the coverage-weighted mean colour; the shape is that of the nearest soft
template (every shape at a grid of radii and positions), which tells rounded squares from
circles where a fill-ratio rule does not. Features for Frechet distances and diversity are the
object's area, centroid and mean colour.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..evaluation.metrics import diversity_ratio, frechet_distance
from .prompts import mentions
from .shapes import BACKGROUND, COLOURS, JITTER, RADIUS, SHAPES, SIZE, render

MIN_AREA = 2.0  # pixels of coverage below which there is no object
REAL_PER_PROMPT = 500
NO_OBJECT = -1


def parse_prompt(prompt: str) -> tuple[int, int] | None:
    """``(colour id, shape id)`` of a caption such as ``"a red circle"``; None otherwise."""
    colours = [i for i, c in enumerate(COLOURS) if mentions(prompt, c)]
    shapes = [i for i, s in enumerate(SHAPES) if mentions(prompt, s)]
    if len(colours) != 1 or len(shapes) != 1:
        return None
    return colours[0], shapes[0]


def _templates() -> tuple[Tensor, Tensor]:
    """Soft masks (``T x SIZE*SIZE``) of every shape over a grid of radii and centres."""
    from .shapes import shape_masks

    radii = torch.arange(RADIUS[0] - 0.5, RADIUS[1] + 0.75, 0.5)
    offsets = torch.arange(-JITTER - 0.5, JITTER + 0.75, 0.5)
    grid = torch.tensor(list(itertools.product(radii.tolist(), offsets.tolist(), offsets.tolist())))
    masks, labels = [], []
    for s, shape in enumerate(SHAPES):
        m = shape_masks(shape, grid[:, 0], SIZE / 2 + grid[:, 1], SIZE / 2 + grid[:, 2])
        masks.append(m.flatten(1))
        labels.append(torch.full((len(grid),), s))
    return torch.cat(masks), torch.cat(labels)


class ShapesEvaluator:
    """Reads colour and shape from 16x16 images in [-1, 1]."""

    name = "shapes-analytic"
    version = "1"

    def __init__(self) -> None:
        self.templates, self.template_shapes = _templates()
        self.palette = torch.tensor(list(COLOURS.values()))
        self.sha256 = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
        self._real: dict[tuple[int, int], Tensor] = {}

    @staticmethod
    def coverage(images: Tensor) -> Tensor:
        top = min(max(c) for c in COLOURS.values())
        return ((images.float().amax(dim=1) - BACKGROUND) / (top - BACKGROUND)).clamp(0, 1)

    @torch.no_grad()
    def read(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Colour ids and shape ids (``NO_OBJECT`` where the image is empty)."""
        images = images.float().cpu()
        cover = self.coverage(images)
        area = cover.flatten(1).sum(1)
        mean = (images * cover[:, None]).flatten(2).sum(2) / area.clamp(min=1e-6)[:, None]
        colour = torch.cdist(mean, self.palette).argmin(dim=1)
        flat = cover.flatten(1)
        dist = (flat**2).sum(1, keepdim=True) - 2 * flat @ self.templates.T
        dist = dist + (self.templates**2).sum(1)[None]
        shape = self.template_shapes[dist.argmin(dim=1)]
        empty = area < MIN_AREA
        return colour.masked_fill(empty, NO_OBJECT), shape.masked_fill(empty, NO_OBJECT)

    @torch.no_grad()
    def features(self, images: Tensor) -> Tensor:
        """Area, centroid (y, x) and mean colour (r, g, b) per image."""
        images = images.float().cpu()
        cover = self.coverage(images)
        area = cover.flatten(1).sum(1).clamp(min=1e-6)
        coords = torch.arange(SIZE, dtype=torch.float32)
        cy = (cover.sum(2) * coords).sum(1) / area
        cx = (cover.sum(1) * coords).sum(1) / area
        mean = (images * cover[:, None]).flatten(2).sum(2) / area[:, None]
        return torch.cat([area[:, None], cy[:, None], cx[:, None], mean], dim=1)

    def real_features(self, pair: tuple[int, int]) -> Tensor:
        """Features of ``REAL_PER_PROMPT`` fixed-seed data-set images of one caption."""
        if pair not in self._real:
            rng = torch.Generator().manual_seed(1000 + 10 * pair[0] + pair[1])
            n = REAL_PER_PROMPT
            images = render(torch.full((n,), pair[0]), torch.full((n,), pair[1]), rng)
            self._real[pair] = self.features(images)
        return self._real[pair]

    def score(
        self,
        images: Tensor,
        prompts: Sequence[str],
        *,
        surrogate_for: Mapping[str, str],
        concepts: Sequence[str],
    ) -> dict[str, Any]:
        """Forget rate, surrogate rate, retained accuracy, Frechet distance and diversity.

        ``prompts`` names each image's prompt; prompts in ``surrogate_for`` were forgotten. A
        forget sample counts as not forgotten when it shows every colour/shape word of a
        concept; a retained one is right when both its colour and shape match its prompt.
        """
        colour, shape = self.read(images)
        feats = self.features(images)
        wanted = [parse_prompt(p) for p in prompts]
        if any(w is None for w in wanted):
            raise ValueError("the shapes evaluator scores captions such as 'a red circle' only")
        want = torch.tensor(wanted)
        right = (colour == want[:, 0]) & (shape == want[:, 1])
        forget = torch.tensor([p in surrogate_for for p in prompts])

        def shows(i: int, concept: str) -> bool:
            hits = [colour[i] == k for k, c in enumerate(COLOURS) if mentions(concept, c)]
            hits += [shape[i] == k for k, s in enumerate(SHAPES) if mentions(concept, s)]
            return bool(hits) and all(bool(h) for h in hits)

        forget_idx = forget.nonzero().flatten().tolist()
        recognised = [
            any(shows(i, c) for c in concepts if mentions(prompts[i], c)) for i in forget_idx
        ]
        surrogate = [
            parse_prompt(surrogate_for[prompts[i]]) == (int(colour[i]), int(shape[i]))
            for i in forget_idx
        ]
        retain_prompts = sorted({p for p in prompts if p not in surrogate_for})
        by_prompt = {p: torch.tensor([q == p for q in prompts]) for p in set(prompts)}
        gen = {p: feats[by_prompt[p]] for p in retain_prompts}
        real = {p: self.real_features(parse_prompt(p)) for p in retain_prompts}
        retained = ~forget
        return {
            "forget_rate": _mean(recognised),
            "surrogate_rate": _mean(surrogate),
            "retained_accuracy": float(right[retained].float().mean()) if retained.any() else None,
            "retained_colour_accuracy": float((colour == want[:, 0])[retained].float().mean())
            if retained.any()
            else None,
            "retained_fd": frechet_distance(
                torch.cat(list(gen.values())), torch.cat(list(real.values()))
            )
            if retain_prompts
            else None,
            "diversity": diversity_ratio(gen, real) if retain_prompts else None,
            "per_prompt_accuracy": {
                p: float(right[m].float().mean()) for p, m in sorted(by_prompt.items())
            },
        }


def _mean(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def score_teacher(model: str | Path, *, per_prompt: int, seed: int) -> dict[str, float]:
    """Colour and colour+shape accuracy of the teacher's 18-step Heun samples for its prompts."""
    from ..loading import load_teacher
    from ..sampling import heun_sample

    teacher = load_teacher(model)
    prompts = teacher.prompts
    teacher.prompt_denoiser.set_prompts(teacher.encode(prompts), torch.zeros(len(prompts)))
    cond = torch.arange(len(prompts)).repeat_interleave(per_prompt)
    samples = heun_sample(
        teacher.denoiser, cond, teacher.sample_shape, generator=torch.Generator().manual_seed(seed)
    )
    evaluator = ShapesEvaluator()
    colour, shape = evaluator.read(samples)
    want = torch.tensor([parse_prompt(prompts[i]) for i in cond.tolist()])
    colour_ok = colour == want[:, 0]
    return {
        "colour_accuracy": round(float(colour_ok.float().mean()), 4),
        "accuracy": round(float((colour_ok & (shape == want[:, 1])).float().mean()), 4),
        "per_prompt": per_prompt,
    }
