"""Unlearning baselines measured against SFD in the same harness (``bench/compare.py``).

Each module exposes ``unlearn(teacher, plan, budget, *, seed, progress, ...) -> Denoiser``: a
fine-tuned copy of the teacher, sampled with the teacher's multi-step Heun sampler. They exist
for measurement; the service itself runs SFD only.
"""

from collections.abc import Callable

from . import concept_ablation, embedding_swap, esd, retrain, salun, selective_amnesia
from .common import Budget, ReplayConfig

BASELINES: dict[str, Callable] = {
    "Retrain": retrain.unlearn,
    "ESD": esd.unlearn,
    "Selective Amnesia": selective_amnesia.unlearn,
    "SalUn": salun.unlearn,
    "Concept Ablation": concept_ablation.unlearn,
    "Embedding swap": embedding_swap.unlearn,
}

__all__ = ["BASELINES", "Budget", "ReplayConfig"]
