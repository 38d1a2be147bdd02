"""scikit-learn's bundled 8x8 digits as tensors in [-1, 1], with a fixed stratified split."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import torch
from torch import Tensor

Split = Literal["train", "test", "all"]
CLASS_NAMES = [str(i) for i in range(10)]
TEST_FRACTION = 0.2
SPLIT_SEED = 0
PIXEL_MAX = 16.0


@lru_cache(maxsize=1)
def _arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Images (N x 1 x 8 x 8 float32 in [-1, 1]), labels, and train/test index arrays."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = (data.images.astype(np.float32) / PIXEL_MAX * 2.0 - 1.0)[:, None]
    labels = data.target.astype(np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)),
        test_size=TEST_FRACTION,
        random_state=SPLIT_SEED,
        stratify=labels,
    )
    return images, labels, np.sort(train_idx), np.sort(test_idx)


def load_digits_tensors(split: Split = "train") -> tuple[Tensor, Tensor]:
    """``(images, labels)``: float32 ``N x 1 x 8 x 8`` in [-1, 1] and int64 class ids 0-9."""
    images, labels, train_idx, test_idx = _arrays()
    if split == "all":
        idx = np.arange(len(labels))
    elif split == "train":
        idx = train_idx
    elif split == "test":
        idx = test_idx
    else:
        raise ValueError(f"unknown split {split!r} (train, test or all)")
    return torch.from_numpy(images[idx].copy()), torch.from_numpy(labels[idx].copy())
