"""Train the bundled digits evaluator (a small CNN) and save it as safetensors + config.json.

    .venv/bin/python scripts/train_digits_evaluator.py

Light augmentation (random +-1 px shifts, small Gaussian noise) makes it robust to samples
from generators, whose digits are not always centred and clean.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor
from tqdm import tqdm

from sfd_core.digits.data import CLASS_NAMES, SPLIT_SEED, TEST_FRACTION, load_digits_tensors
from sfd_core.evaluation.digits import CONFIG_FILE, EVALUATOR_DIR, WEIGHTS_FILE, DigitsCNN

ARCHITECTURE = {"channels": [32, 64], "feature_dim": 64, "num_classes": 10}


def augment(images: Tensor, noise_std: float, generator: torch.Generator) -> Tensor:
    """Shift each image by up to one pixel (background fill) and add Gaussian noise."""
    n = len(images)
    padded = F.pad(images, (1, 1, 1, 1), value=-1.0)
    dy, dx = torch.randint(0, 3, (2, n), generator=generator)
    rows = (dy[:, None] + torch.arange(8))[:, None, :, None].expand(n, 1, 8, 10)
    shifted = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(8))[:, None, None, :].expand(n, 1, 8, 8)
    shifted = shifted.gather(3, cols)
    noise = torch.randn(shifted.shape, generator=generator) * noise_std
    return (shifted + noise).clamp(-1, 1)


def accuracy(network: DigitsCNN, images: Tensor, labels: Tensor) -> float:
    with torch.no_grad():
        return float((network.eval()(images).argmax(1) == labels).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EVALUATOR_DIR)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--noise-std", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    train_x, train_y = load_digits_tensors("train")
    test_x, test_y = load_digits_tensors("test")
    network = DigitsCNN(**ARCHITECTURE)
    optimizer = torch.optim.AdamW(network.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = -(-len(train_x) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, args.lr, total_steps=args.epochs * steps_per_epoch
    )
    start = time.time()
    for _ in (bar := tqdm(range(args.epochs), desc="evaluator")):
        network.train()
        order = torch.randperm(len(train_x), generator=generator)
        for idx in order.split(args.batch_size):
            x = augment(train_x[idx], args.noise_std, generator)
            loss = F.cross_entropy(network(x), train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        bar.set_postfix(loss=f"{loss.item():.4f}", test=f"{accuracy(network, test_x, test_y):.4f}")

    test_acc = accuracy(network, test_x, test_y)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, args.out / WEIGHTS_FILE)
    config = {
        "name": "digits-cnn",
        "version": "digits-cnn-1",
        "class_names": CLASS_NAMES,
        "input": {"shape": [1, 8, 8], "range": [-1, 1]},
        "architecture": ARCHITECTURE,
        "feature_layer": "penultimate Linear, before its ReLU",
        "heldout_accuracy": round(test_acc, 4),
        "heldout_split": {"test_fraction": TEST_FRACTION, "split_seed": SPLIT_SEED},
        "training": {
            "seed": args.seed,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "noise_std": args.noise_std,
            "augmentation": "random +-1 px shift, Gaussian noise",
            "wall_seconds": round(time.time() - start, 1),
        },
    }
    (args.out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    print(f"held-out accuracy {test_acc:.4f}; saved to {args.out}")


if __name__ == "__main__":
    main()
