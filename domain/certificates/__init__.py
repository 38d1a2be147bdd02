"""Unlearning certificates: signed statements of what a succeeded job forgot and produced."""
