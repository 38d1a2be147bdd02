"""``sfd worker --gpus 0,1``: one pool process per GPU, each pinned to its own device before
torch loads, and a replaced pool process keeps its slot's GPU. (No GPU is needed to check the
pinning: the pool processes only load the engine; this node consumes a queue nobody sends to.)"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

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
