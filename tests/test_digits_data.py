"""The digits data: shapes, range, and a deterministic stratified split."""

import pytest
import torch

from sfd_core.digits import data
from sfd_core.digits.data import load_digits_tensors


def _rows(images: torch.Tensor) -> list[bytes]:
    return sorted(row.numpy().tobytes() for row in images)


def test_shapes_range_and_labels() -> None:
    sizes = {}
    for split in ("train", "test", "all"):
        images, labels = load_digits_tensors(split)
        assert images.dtype == torch.float32 and labels.dtype == torch.int64
        assert images.shape[1:] == (1, 8, 8) and len(images) == len(labels)
        assert images.min() == -1.0 and images.max() == 1.0
        assert set(labels.tolist()) == set(range(10))
        sizes[split] = len(images)
    assert sizes == {"train": 1437, "test": 360, "all": 1797}


def test_split_partitions_the_data_and_is_stratified() -> None:
    train_x, train_y = load_digits_tensors("train")
    test_x, test_y = load_digits_tensors("test")
    all_x, _ = load_digits_tensors("all")
    assert _rows(torch.cat([train_x, test_x])) == _rows(all_x)
    share = test_y.bincount(minlength=10) / (train_y.bincount(minlength=10) + test_y.bincount())
    assert torch.all((share - 0.2).abs() < 0.01)


def test_split_is_deterministic_across_reloads() -> None:
    before = load_digits_tensors("test")
    data._arrays.cache_clear()
    after = load_digits_tensors("test")
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])


def test_unknown_split_is_refused() -> None:
    with pytest.raises(ValueError, match="validation"):
        load_digits_tensors("validation")  # type: ignore[arg-type]
