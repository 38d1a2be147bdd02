"""Threads per job: the cores shared among the jobs that run at once."""

import os

from worker.threads import available_cores, threads_per_job


def test_cores_are_divided_among_job_slots_unless_configured():
    cores = available_cores()
    assert cores == len(os.sched_getaffinity(0))
    assert threads_per_job(0, 1) == cores
    assert threads_per_job(0, cores * 4) == 1  # never zero threads
    assert threads_per_job(0, 2) == max(1, cores // 2)
    assert threads_per_job(3, 2) == 3  # SFD_JOB_THREADS wins


def test_the_embedded_runner_gives_each_job_slot_its_share_of_the_cores(tmp_path):
    from domain.db import Database
    from domain.settings import Settings
    from worker.embedded import EmbeddedRunner

    settings = Settings(home=tmp_path, job_threads=0, embedded_concurrency=2)
    db = Database(f"sqlite:///{tmp_path / 'sfd.db'}")
    runner = EmbeddedRunner(settings, db)  # not started: only its job environment is read
    assert runner.job_env["SFD_JOB_THREADS"] == str(max(1, available_cores() // 2))
    db.dispose()
