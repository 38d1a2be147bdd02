"""The shapes steering classifier: a small CNN with a colour head and a shape head.

It steers attacks on ``shapes`` models; the analytic evaluator judges them. Weights are bundled
in ``sfd_core/bundled/shapes_classifier`` (safetensors); ``scripts/train_shapes_classifier.py``
reproduces them from the toy's own renderer.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ..loading import BUNDLED_DIR
from ..text import shapes

CLASSIFIER_DIR = BUNDLED_DIR / "shapes_classifier"
WEIGHTS_FILE = "model.safetensors"


class ShapesCNN(nn.Module):
    """Conv-Pool-Conv-Pool-Linear, then a colour head and a shape head."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 64),
            nn.ReLU(),
        )
        self.colour = nn.Linear(64, len(shapes.COLOURS))
        self.shape = nn.Linear(64, len(shapes.SHAPES))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(images)
        return self.colour(h), self.shape(h)


def train_shapes_classifier(steps: int = 600, batch: int = 128, seed: int = 0) -> ShapesCNN:
    """Fit both heads on freshly rendered batches (the renderer is the data set)."""
    rng = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        network = ShapesCNN()
    optimizer = torch.optim.Adam(network.parameters(), lr=2e-3)
    n_shapes = len(shapes.SHAPES)
    for _ in range(steps):
        images, captions = shapes.sample_batch(batch, rng)
        colour_logits, shape_logits = network(images)
        loss = nn.functional.cross_entropy(colour_logits, captions // n_shapes)
        loss = loss + nn.functional.cross_entropy(shape_logits, captions % n_shapes)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return network.eval()


def save_shapes_classifier(network: ShapesCNN, folder: Path = CLASSIFIER_DIR) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_file(network.state_dict(), folder / WEIGHTS_FILE)


@lru_cache(maxsize=1)
def load_shapes_classifier(folder: Path = CLASSIFIER_DIR) -> ShapesCNN:
    network = ShapesCNN()
    network.load_state_dict(load_file(folder / WEIGHTS_FILE))
    return network.eval().requires_grad_(False)
