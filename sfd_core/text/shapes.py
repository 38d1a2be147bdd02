"""The procedural captioned data set of the bundled ``shapes`` teacher.

16x16 RGB images in [-1, 1]: one coloured circle, square or triangle on a dark background,
radius 3.5-6 px, centre jittered by up to 2 px; captions such as ``"a red circle"``. Shapes are
rendered with 4x4 supersampling so their edges are soft.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

SIZE = 16
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.9, -0.8, -0.8),
    "green": (-0.8, 0.8, -0.8),
    "blue": (-0.8, -0.7, 0.9),
    "yellow": (0.9, 0.85, -0.8),
}
SHAPES = ("circle", "square", "triangle")
BACKGROUND = -0.9
RADIUS = (3.5, 6.0)
JITTER = 2.0
SUPERSAMPLE = 4


def caption(colour: str, shape: str) -> str:
    return f"a {colour} {shape}"


CAPTIONS: list[tuple[str, str, str]] = [
    (caption(c, s), c, s) for c, s in itertools.product(COLOURS, SHAPES)
]


def _grid(size: int) -> tuple[Tensor, Tensor]:
    """Supersampled pixel coordinates, ``(size*k, size*k)`` each, pixel centres at ``i + 0.5``."""
    coords = (torch.arange(size * SUPERSAMPLE, dtype=torch.float32) + 0.5) / SUPERSAMPLE
    return torch.meshgrid(coords, coords, indexing="ij")


def shape_masks(shape: str, radius: Tensor, cy: Tensor, cx: Tensor, size: int = SIZE) -> Tensor:
    """Soft coverage in [0, 1], ``N x size x size``, of shapes centred at ``(cy, cx)``."""
    yy, xx = _grid(size)
    dy = yy[None] - cy[:, None, None]
    dx = xx[None] - cx[:, None, None]
    r = radius[:, None, None]
    if shape == "circle":
        inside = dx**2 + dy**2 <= r**2
    elif shape == "square":
        half = 0.85 * r  # close to the circle's area
        inside = (dx.abs() <= half) & (dy.abs() <= half)
    elif shape == "triangle":
        rr = 1.25 * r  # apex up, inscribed in a circle of radius rr
        inside = (dy <= 0.5 * rr) & (dy >= -rr + 1.732 * dx.abs())
    else:
        raise ValueError(f"unknown shape {shape!r}")
    k = SUPERSAMPLE
    return inside.float().reshape(-1, size, k, size, k).mean(dim=(2, 4))


def render(colour_ids: Tensor, shape_ids: Tensor, generator: torch.Generator) -> Tensor:
    """Images ``N x 3 x SIZE x SIZE`` in [-1, 1] with random radius and position."""
    n = len(colour_ids)
    radius = RADIUS[0] + (RADIUS[1] - RADIUS[0]) * torch.rand(n, generator=generator)
    centre = SIZE / 2 + JITTER * (2 * torch.rand(n, 2, generator=generator) - 1)
    masks = torch.empty(n, SIZE, SIZE)
    for s, shape in enumerate(SHAPES):
        pick = shape_ids == s
        if pick.any():
            masks[pick] = shape_masks(shape, radius[pick], centre[pick, 0], centre[pick, 1])
    palette = torch.tensor(list(COLOURS.values()))[colour_ids]  # N x 3
    return BACKGROUND + masks[:, None] * (palette[:, :, None, None] - BACKGROUND)


def sample_batch(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` random images and their caption indices into :data:`CAPTIONS`."""
    captions = torch.randint(len(CAPTIONS), (n,), generator=generator)
    colour_ids = captions // len(SHAPES)
    shape_ids = captions % len(SHAPES)
    return render(colour_ids, shape_ids, generator), captions
