"""``sfd worker --gpus 0,1``: one pool process per GPU, each pinned to its own device before
torch loads, and a replaced pool process keeps its slot's GPU. (No GPU is needed to check the
pinning: the pool processes only load the engine; this node consumes a queue nobody sends to.)"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from worker.gpus import Reservation

from .fleet import READY_LINE, Fleet, start_node

READY = re.compile(rf"{READY_LINE} (\d+) ready \(gpu (\S+), device (\S+)\)")


def test_one_pool_process_per_gpu(fleet: Fleet, tmp_path: Path) -> None:
    node = start_node(
        fleet.settings, "gpus", tmp_path, beat=False, options=("--gpus=0,1", "--queues=idle")
    )
    try:
        node.wait_ready(processes=2)
        first = {gpu: (int(pid), device) for pid, gpu, device in READY.findall(node.text())}
        assert sorted(first) == ["0", "1"]
        assert {device for _, device in first.values()} == {"cuda"}

        os.kill(first["1"][0], signal.SIGKILL)
        node.wait_ready(processes=3)
        replaced = [(int(pid), gpu) for pid, gpu, _ in READY.findall(node.text())][-1]
        assert replaced[1] == "1" and replaced[0] != first["1"][0]
        time.sleep(0.5)
        assert node.alive()
    finally:
        node.stop()


def test_a_job_borrows_idle_slots_gpus_and_gives_back_the_rest(tmp_path: Path) -> None:
    gpus = ["0", "1", "2", "3"]
    first = Reservation(tmp_path, gpus, own="0")
    assert first.gpus == gpus
    assert first.keep(2) == ["0", "1"]  # a 2-GPU job on slot 0 borrows slot 1's GPU
    lent = Reservation(tmp_path, gpus, own="1")
    assert lent.gpus == []  # slot 1 claims nothing while its GPU is lent
    other = Reservation(tmp_path, gpus, own="3")
    assert other.gpus == ["3", "2"]
    first.release()
    assert Reservation(tmp_path, gpus, own="1").gpus == ["1", "0"]  # the kernel's locks are free
    other.release()
