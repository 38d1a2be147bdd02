"""sfd_core: Score Forgetting Distillation, the engine.

It knows nothing of HTTP, queues or databases. ``OneStepGenerator`` loads and samples an
unlearned generator; ``sfd_core.job.run_unlearning`` runs a forget-request end to end.
"""

from .generator import OneStepGenerator

__all__ = ["OneStepGenerator"]
