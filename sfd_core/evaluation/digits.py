"""The bundled digits evaluator: a small CNN whose penultimate layer is the feature space.

Weights live in ``sfd_core/bundled/digits_evaluator`` (``model.safetensors`` + ``config.json``);
``scripts/train_digits_evaluator.py`` reproduces them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from ..digits.data import load_digits_tensors
from ..loading import BUNDLED_DIR, folder_sha256

EVALUATOR_DIR = BUNDLED_DIR / "digits_evaluator"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class DigitsCNN(nn.Module):
    """Conv-ReLU-Conv-ReLU-Pool, Conv-ReLU-Pool, Linear (the features), then ReLU-Linear.

    Features are taken before the last ReLU, so no unit is constant (dead) on real data.
    """

    def __init__(
        self, channels: Sequence[int] = (32, 64), feature_dim: int = 64, num_classes: int = 10
    ) -> None:
        super().__init__()
        c1, c2 = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c2, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(c2 * 2 * 2, feature_dim),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, num_classes))

    def features(self, images: Tensor) -> Tensor:
        return self.body(images)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.body(images))


class DigitsEvaluator:
    """Classifies 8x8 digits in [-1, 1] and embeds them for Frechet distances."""

    def __init__(self, network: DigitsCNN, config: dict[str, Any], sha256: str) -> None:
        self.network = network.eval().requires_grad_(False)
        self.config = config
        self.name: str = config["name"]
        self.version: str = config["version"]
        self.sha256 = sha256
        self.class_names: list[str] = config["class_names"]
        self._real: tuple[Tensor, Tensor] | None = None

    @classmethod
    def load(cls, folder: Path = EVALUATOR_DIR) -> DigitsEvaluator:
        """Load from ``config.json`` and ``model.safetensors`` (no pickle)."""
        config = json.loads((folder / CONFIG_FILE).read_text())
        network = DigitsCNN(**config["architecture"])
        network.load_state_dict(load_file(folder / WEIGHTS_FILE))
        return cls(network, config, folder_sha256(folder))

    @torch.no_grad()
    def classify(self, images: Tensor) -> Tensor:
        return self.network(images.float().cpu()).argmax(dim=1)

    @torch.no_grad()
    def features(self, images: Tensor) -> Tensor:
        return self.network.features(images.float().cpu())

    def real_features(self, class_ids: Sequence[int]) -> Tensor:
        """Features of all real digits (train and test) of the given classes."""
        if self._real is None:
            images, labels = load_digits_tensors("all")
            self._real = (self.features(images), labels)
        feats, labels = self._real
        return feats[torch.isin(labels, torch.tensor(list(class_ids), dtype=labels.dtype))]
