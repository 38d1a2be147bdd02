"""Unlearning jobs: the forget-request, its state machine, lease and event history."""
