"""Issue 13: the before/after grid's labels are drawn large enough to read where the dashboard
shows the grid at its own pixel size."""

from __future__ import annotations

import numpy as np
import torch

from sfd_core.grids import LABEL_PX, before_after_grid, image_rows


def _ink_rows(image: np.ndarray) -> np.ndarray:
    return np.flatnonzero((image < 128).any(axis=(1, 2)))


def test_grid_labels_are_at_least_label_px_tall() -> None:
    samples = [torch.zeros(4, 1, 8, 8) for _ in range(2)]
    grid = before_after_grid(samples, samples, ["0", "Brad Pitt"], forgotten=["0"])
    pixels = np.asarray(grid)
    title = pixels[: LABEL_PX + 12, :, :]
    assert np.ptp(_ink_rows(title)) >= 0.6 * LABEL_PX  # the titles' glyphs
    label_column = pixels[LABEL_PX + 12 :, :40, :]
    assert np.ptp(_ink_rows(label_column[:54])) >= 0.6 * LABEL_PX  # "0  (forgotten)"
    assert grid.width > 40 + 2 * 4 * 8 * 6  # the label column grew to fit the text
    rows = image_rows([torch.zeros(2, 1, 8, 8)], ["a long attack name"], label_width=60)
    images_width = 2 * 8 * 6 + 2
    assert rows.width - images_width - 6 > 120  # wider than label_width: the name fits
