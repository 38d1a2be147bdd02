"""Sample grids a person can look at: per class, teacher samples beside the unlearned ones."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

BACKGROUND = (255, 255, 255)
INK = (40, 40, 40)
FORGOTTEN = (190, 30, 45)
LABEL_PX = 16  # label and title height: readable where the grid is shown at its own size


def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=LABEL_PX)


def to_uint8(images: Tensor) -> np.ndarray:
    """N x C x H x W in [-1, 1] to N x H x W x 3 uint8."""
    array = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().cpu().numpy()
    array = array.transpose(0, 2, 3, 1)
    return np.repeat(array, 3, axis=3) if array.shape[3] == 1 else array


def image_row(images: Tensor, scale: int, gap: int = 2) -> Image.Image:
    """One row of upscaled images (nearest neighbour, so pixels stay visible)."""
    tiles = [
        Image.fromarray(a).resize((a.shape[1] * scale, a.shape[0] * scale), Image.NEAREST)
        for a in to_uint8(images)
    ]
    width = sum(t.width for t in tiles) + gap * (len(tiles) - 1)
    row = Image.new("RGB", (width, tiles[0].height), BACKGROUND)
    x = 0
    for tile in tiles:
        row.paste(tile, (x, 0))
        x += tile.width + gap
    return row


def before_after_grid(
    before: Sequence[Tensor],
    after: Sequence[Tensor],
    row_names: Sequence[str],
    *,
    forgotten: Sequence[str] = (),
    titles: tuple[str, str] = ("teacher", "unlearned (1 step)"),
    scale: int = 6,
) -> Image.Image:
    """Rows of ``before | after`` samples, one per class; forgotten rows are marked in red."""
    rows = [(image_row(b, scale), image_row(a, scale)) for b, a in zip(before, after, strict=True)]
    font = _font()
    labels = [f"{n}  (forgotten)" if n in forgotten else n for n in row_names]
    gap, header_h, pad = 24, LABEL_PX + 12, 6
    label_w = max(int(font.getlength(label)) for label in labels) + 2 * pad
    left_w = max(r[0].width for r in rows)
    right_w = max(r[1].width for r in rows)
    row_h = max(r[0].height for r in rows)
    width = label_w + left_w + gap + right_w + pad
    height = header_h + len(rows) * (row_h + pad) + pad
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((label_w, 4), titles[0], fill=INK, font=font)
    draw.text((label_w + left_w + gap, 4), titles[1], fill=INK, font=font)
    for i, ((left, right), name, label) in enumerate(zip(rows, row_names, labels, strict=True)):
        y = header_h + i * (row_h + pad)
        colour = FORGOTTEN if name in forgotten else INK
        draw.text((pad, y + (row_h - LABEL_PX) // 2), label, fill=colour, font=font)
        canvas.paste(left, (label_w, y))
        canvas.paste(right, (label_w + left_w + gap, y))
    return canvas


def image_rows(
    rows: Sequence[Tensor], row_names: Sequence[str], *, scale: int = 6, label_width: int = 60
) -> Image.Image:
    """A labelled grid: one row of upscaled samples per name."""
    pictures = [image_row(r, scale) for r in rows]
    font, pad = _font(), 6
    label_w = max(label_width, *(int(font.getlength(n)) + 2 * pad for n in row_names))
    row_h = max(p.height for p in pictures)
    width = label_w + max(p.width for p in pictures) + pad
    canvas = Image.new("RGB", (width, pad + len(pictures) * (row_h + pad)), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for i, (picture, name) in enumerate(zip(pictures, row_names, strict=True)):
        y = pad + i * (row_h + pad)
        draw.text((pad, y + (row_h - LABEL_PX) // 2), name, fill=INK, font=font)
        canvas.paste(picture, (label_w, y))
    return canvas
