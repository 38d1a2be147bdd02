"""How many CPU threads a job's torch may use, so jobs running at once do not oversubscribe.

torch defaults to every core in every process: two jobs (or a job and the API) on a 2-core
machine then run four threads on two cores and each is slower than half its solo speed.
"""

from __future__ import annotations

import os

THREADS_ENV = "SFD_JOB_THREADS"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_job(configured: int, jobs_at_once: int) -> int:
    """``configured`` if set, else the available cores divided by the jobs run at once."""
    if configured > 0:
        return configured
    return max(1, available_cores() // max(1, jobs_at_once))


def use_threads(count: int) -> None:
    """Set this process's torch intra-op threads."""
    import torch

    torch.set_num_threads(count)
