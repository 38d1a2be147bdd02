"""A loaded teacher: its denoiser and what the engine needs to know around it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from .conditions import ForgetPlan, ForgetSpec, plan_for_classes
from .config import SFDConfig
from .denoisers import Denoiser


@dataclass
class Teacher:
    """A frozen pretrained model as the engine sees it.

    ``kind`` is ``"class"`` (condition ids are class labels) or ``"text"`` (ids index cached
    prompt embeddings). Subclasses say how a forget spec becomes a plan and how samples become
    images in [-1, 1].
    """

    denoiser: Denoiser
    sample_shape: tuple[int, ...]
    scheduler_config: dict[str, Any]
    sha256: str
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)
    kind: str = "class"

    def plan(self, spec: ForgetSpec, **options: Any) -> ForgetPlan:
        raise NotImplementedError

    def configure(self, config: SFDConfig) -> None:
        """Apply a run's settings to the denoiser before training (text: guidance, memory)."""

    def decode(self, samples: Tensor) -> Tensor:
        """Samples in the model's space to images in [-1, 1] (pixel models: unchanged)."""
        return samples


@dataclass
class ClassConditionalTeacher(Teacher):
    """A class-conditional pixel-space model (``UNet2DModel`` with ``num_class_embeds``)."""

    class_names: list[str] = field(default_factory=list)
    null_id: int | None = None

    def plan(self, spec: ForgetSpec, **options: Any) -> ForgetPlan:
        if options:
            raise ValueError(f"class-conditional models take no options: {sorted(options)}")
        return plan_for_classes(spec, self.class_names, self.null_id)
