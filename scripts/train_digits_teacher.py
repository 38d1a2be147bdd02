"""Train the bundled digits teacher and save it to sfd_core/bundled/digits.

.venv/bin/python scripts/train_digits_teacher.py

With ``--exclude 0 --out sfd_core/bundled/references/digits-without-0`` it trains the reference
model the attack probes compare against: the same recipe, never shown a 0.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from sfd_core.digits.teacher import (
    TeacherTrainingConfig,
    sample_recognition,
    save_teacher,
    train_teacher,
)
from sfd_core.loading import BUNDLED_MODELS


def save_grid(images: Tensor, path: Path, scale: int = 4) -> None:
    """Save ``rows x cols x H x W`` images in [-1, 1] as one PNG, tiles framed in grey."""
    rows, cols, h, w = images.shape
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    canvas = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1), 128, dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            canvas[1 + r * (h + 1) :][:h, 1 + c * (w + 1) :][:, :w] = pixels[r, c]
    Image.fromarray(np.kron(canvas, np.ones((scale, scale), dtype=np.uint8))).save(path)


def main() -> None:
    defaults = TeacherTrainingConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUNDLED_MODELS["digits"])
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--ema", type=float, default=defaults.ema)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--exclude", nargs="*", default=[], help="class names left out")
    parser.add_argument("--grid", type=Path, help="also write a PNG grid of Heun samples here")
    args = parser.parse_args()
    # Small convolutions: one thread beats two contended OpenMP threads by ~5x on 2 cores.
    torch.set_num_threads(1)

    config = TeacherTrainingConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, ema=args.ema, seed=args.seed
    )
    unet, training = train_teacher(config, exclude=[int(c) for c in args.exclude])
    samples, recognition = sample_recognition(unet, per_class=100, seed=args.seed)
    training["evaluator_recognition"] = round(recognition, 4)
    save_teacher(unet, training, args.out)
    print(f"Heun-sample recognition {recognition:.4f}; saved to {args.out}")
    if args.grid:
        save_grid(samples.view(10, -1, 8, 8)[:, :10], args.grid)


if __name__ == "__main__":
    main()
