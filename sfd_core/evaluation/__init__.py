"""Evaluators: pretrained classifiers that score samples, and the metrics built on them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from torch import Tensor

from .digits import DigitsEvaluator
from .metrics import diversity_ratio, forgetting_metrics, frechet_distance


@runtime_checkable
class Evaluator(Protocol):
    """A classifier with a feature space, identified by name, version and weights hash."""

    name: str
    version: str
    sha256: str

    def classify(self, images: Tensor) -> Tensor:
        """Predicted class ids (``LongTensor[N]``) for images in [-1, 1]."""
        ...

    def features(self, images: Tensor) -> Tensor:
        """Feature vectors (``Tensor[N, D]``) for images in [-1, 1]."""
        ...

    def real_features(self, class_ids: Sequence[int]) -> Tensor:
        """Feature vectors of the real data of the given classes."""
        ...


EVALUATORS: dict[str, Callable[[], Evaluator]] = {"digits": DigitsEvaluator.load}

__all__ = [
    "EVALUATORS",
    "DigitsEvaluator",
    "Evaluator",
    "diversity_ratio",
    "forgetting_metrics",
    "frechet_distance",
]
