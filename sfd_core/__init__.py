"""sfd_core: Score Forgetting Distillation, the engine.

It knows nothing of HTTP, queues or databases. ``OneStepGenerator`` loads and samples an
unlearned generator; ``sfd_core.job.run_unlearning`` runs a forget-request end to end.

Importing the package is cheap: torch and diffusers load with the first module that needs
them (``from sfd_core import OneStepGenerator`` still works), so light modules such as
``sfd_core.progress`` can be imported by the command line without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .generator import OneStepGenerator

__all__ = ["OneStepGenerator"]


def __getattr__(name: str) -> Any:
    if name == "OneStepGenerator":
        from .generator import OneStepGenerator

        return OneStepGenerator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
