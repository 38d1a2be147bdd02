"""Prefixed, time-ordered public ids (``job_...``, ``model_...``, ``key_...``)."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    """``prefix_`` + 12 hex digits of milliseconds + 12 random hex digits: sorts by creation."""
    return f"{prefix}_{int(time.time() * 1000):012x}{secrets.token_hex(6)}"
