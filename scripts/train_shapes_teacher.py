"""Train the bundled shapes text-to-image teacher and save it to sfd_core/bundled/shapes.

.venv/bin/python scripts/train_shapes_teacher.py
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

import torch

from sfd_core.loading import BUNDLED_DIR
from sfd_core.text.pipeline import save_pipeline_folder
from sfd_core.text.shapes import CAPTIONS, SIZE
from sfd_core.text.train_shapes import ShapesTrainingConfig, edm_scheduler, train_shapes

DESCRIPTION = (
    "Toy text-to-image EDM diffusion model in pixel space: 16x16 RGB coloured shapes on a dark "
    "background, captions 'a <colour> <shape>'. Sample with the 18-step Heun sampler (35 NFE)."
)


def main() -> None:
    defaults = ShapesTrainingConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUNDLED_DIR / "shapes")
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--eval-per-prompt", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)  # two contended OpenMP threads are ~5x slower on this machine

    config = ShapesTrainingConfig(**{k: getattr(args, k) for k in asdict(defaults)})
    unet, text_encoder, tokenizer, training = train_shapes(config)
    metadata = {
        "kind": "text",
        "prompts": [c[0] for c in CAPTIONS],
        "evaluator": "shapes",
        "data_range": [-1, 1],
        "sample_shape": [3, SIZE, SIZE],
        "description": DESCRIPTION,
        "training": training,
    }
    save_pipeline_folder(
        args.out,
        unet=unet,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=edm_scheduler(),
        vae=None,
        metadata=metadata,
    )
    print(f"saved to {args.out} after {training['wall_seconds']} s")

    from sfd_core.text.shapes_eval import score_teacher

    scores = score_teacher(args.out, per_prompt=args.eval_per_prompt, seed=config.seed)
    metadata["training"]["heun_scores"] = scores
    save_pipeline_folder(
        args.out,
        unet=unet,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=edm_scheduler(),
        vae=None,
        metadata=metadata,
    )
    print(f"18-step Heun samples: {scores}")


if __name__ == "__main__":
    main()
