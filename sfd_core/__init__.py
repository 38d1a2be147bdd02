"""sfd_core: Score Forgetting Distillation, the engine. Knows nothing of HTTP, queues or databases."""
