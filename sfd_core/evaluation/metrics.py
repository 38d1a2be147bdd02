"""Model-independent sample-quality and forgetting metrics on an evaluator's outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from . import Evaluator


def frechet_distance(feats_a: Tensor, feats_b: Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (rows are samples)."""
    a = feats_a.detach().double().cpu().numpy()
    b = feats_b.detach().double().cpu().numpy()
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Frechet distance needs at least two samples on each side")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    diff = mu_a - mu_b
    value = (
        diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * _trace_sqrt_product(cov_a, cov_b)
    )
    return float(max(value, 0.0))


def _trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """``tr sqrt(cov_a cov_b)`` via symmetric eigendecompositions (safe for singular inputs).

    ``cov_a cov_b`` has the eigenvalues of the symmetric PSD ``A^1/2 cov_b A^1/2``.
    """
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    eig = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def spread(feats: Tensor) -> float:
    """Mean Euclidean distance of the rows to their centroid."""
    return float((feats - feats.mean(0, keepdim=True)).norm(dim=1).mean())


def diversity_ratio(
    gen_feats_by_class: Mapping[int, Tensor], real_feats_by_class: Mapping[int, Tensor]
) -> float:
    """Mean within-class :func:`spread` of generated features over that of real features.

    Averaged over the classes of ``gen_feats_by_class``; about 1 when samples vary as much as
    the data, below 1 when they collapse towards class averages.
    """
    classes = list(gen_feats_by_class)
    if not classes:
        raise ValueError("no classes to compare")
    gen = np.mean([spread(gen_feats_by_class[c]) for c in classes])
    real = np.mean([spread(real_feats_by_class[c]) for c in classes])
    return float(gen / real)


def _share(hits: Tensor) -> float | None:
    return float(hits.float().mean()) if len(hits) else None


def forgetting_metrics(
    evaluator: Evaluator,
    images: Tensor,
    labels: Tensor,
    forget_ids: Sequence[int],
    surrogate_for: Mapping[int, int] | None,
    retain_ids: Sequence[int],
) -> dict[str, Any]:
    """Forgetting and retention of samples ``images`` generated for the classes ``labels``.

    ``surrogate_for`` maps each forget id to its fixed surrogate (None in random mode). Shares
    are None when no sample was generated for the group they measure. Feature-space metrics
    (``retained_fd``, ``diversity``) compare against the evaluator's real data.
    """
    labels = labels.cpu()
    pred = evaluator.classify(images).cpu()
    forget_mask = torch.isin(labels, torch.tensor(list(forget_ids), dtype=labels.dtype))
    retain_mask = torch.isin(labels, torch.tensor(list(retain_ids), dtype=labels.dtype))

    surrogate_rate = None
    if surrogate_for is not None:
        target = torch.tensor([surrogate_for[int(c)] for c in labels[forget_mask]])
        surrogate_rate = _share(pred[forget_mask] == target)

    feats = evaluator.features(images[retain_mask]).cpu()
    retain_labels = labels[retain_mask]
    present = [c for c in retain_ids if (retain_labels == c).sum() >= 2]
    retained_fd = diversity = None
    if present:
        retained_fd = frechet_distance(feats, evaluator.real_features(list(retain_ids)))
        diversity = diversity_ratio(
            {c: feats[retain_labels == c] for c in present},
            {c: evaluator.real_features([c]) for c in present},
        )
    return {
        "forget_rate": _share(pred[forget_mask] == labels[forget_mask]),
        "surrogate_rate": surrogate_rate,
        "retained_accuracy": _share(pred[retain_mask] == labels[retain_mask]),
        "retained_fd": retained_fd,
        "diversity": diversity,
        "per_class_accuracy": {
            int(c): _share(pred[labels == c] == c) for c in labels.unique().tolist()
        },
    }
