"""A deleted model leaves no copy on the worker hosts: a real ``sfd worker`` node with a home
(and model cache) of its own removes its cached copy of a model deleted through the API, and
keeps the copies of live models and folders no model names."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.service.support import upload_new_teacher

from .fleet import fleet_settings, start_fleet, start_node
from .test_fleet_adverts import live_workers


@pytest.mark.timeout(1200)
def test_a_worker_host_drops_its_copy_of_a_deleted_model(
    tmp_path: Path, pg_database: Callable[[], str], redis_url: str
) -> None:
    settings = fleet_settings(tmp_path, pg_database(), redis_url, worker_advert_seconds=1)
    fleet = start_fleet(settings, [], tmp_path)
    node_settings = settings.model_copy(update={"home": tmp_path / "node-home"})
    try:
        with fleet.client() as client:
            deleted = upload_new_teacher(client, tmp_path, 1)
            kept = upload_new_teacher(client, tmp_path, 2)
            copies = {
                m["id"]: node_settings.cache_dir / "models" / m["sha256"] for m in (deleted, kept)
            }
            stray = node_settings.cache_dir / "models" / ("0" * 64)
            for folder in [*copies.values(), stray]:  # as a job's fetch would have left them
                folder.mkdir(parents=True)
                (folder / "config.json").write_text("{}")
            node = start_node(node_settings, "cache", tmp_path, beat=False)
            fleet.nodes.append(node)
            assert live_workers(client, timeout=600)
            assert client.delete(f"/v1/models/{deleted['id']}").status_code == 204
            deadline = time.monotonic() + 60
            # The worker logs the eviction after removing the folder: wait for both.
            while (
                copies[deleted["id"]].exists()
                or "removed the cached copies of deleted models" not in node.text()
            ):
                assert time.monotonic() < deadline, node.text()[-3000:]
                time.sleep(0.5)
            assert copies[kept["id"]].is_dir() and stray.is_dir()
    finally:
        fleet.stop()
