"""Webhooks: endpoints per tenant with a secret shown once, Standard Webhooks signatures,
deliveries on job state changes from a durable outbox (they survive an API restart), retries
with back-off while the receiver is down, auto-disable, redelivery, secret rotation, and
private addresses refused unless the operator allows them. The receiver is a real HTTP server
on 127.0.0.1, which the services here are allowed to reach."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from api.server import BackgroundServer
from domain.webhooks.service import new_secret
from tests.dashboard.conftest import sign_in

from .support import Service, assert_problem, start_service, submit, wait_for

FAST = {
    "webhook_allow_private": True,
    "webhook_retry_base_seconds": 0.2,
    "webhook_retry_max_seconds": 1.0,
    "webhook_poll_seconds": 0.2,
}


class Receiver:
    """A webhook receiver on loopback: answers 503 while ``down``, else 204; keeps every
    request it got with the status it answered."""

    def __init__(self) -> None:
        self.down = True
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = 503 if receiver.down else 204
                with receiver.lock:
                    receiver.requests.append((dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def acknowledged(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(h, b) for h, b, status in self.requests if status == 204]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def _service(home: Path, **overrides: object) -> Service:
    return start_service(home, f"sqlite:///{home / 'sfd.db'}", **{**FAST, **overrides})


def _until(check: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _deliveries(client: httpx.Client, endpoint_id: str) -> list[dict]:
    rows, after = [], None
    while True:
        params = {"limit": 100} | ({"after": after} if after else {})
        page = client.get(f"/v1/webhooks/{endpoint_id}/deliveries", params=params).json()
        rows += page["data"]
        if not page["has_more"]:
            return rows
        after = page["data"][-1]["id"]


def _create(client: httpx.Client, url: str, **body: object) -> dict:
    response = client.post("/v1/webhooks", json={"url": url, **body})
    assert response.status_code == 201, response.text
    return response.json()


def _verified(secret: str, acknowledged: list[tuple[dict[str, str], bytes]]) -> list[dict]:
    return [Webhook(secret).verify(body, headers) for headers, body in acknowledged]


def test_private_addresses_are_refused_by_default(sqlite_service: Service) -> None:
    with sqlite_service.client() as client:
        for url in (
            "http://127.0.0.1:9/hooks",
            "http://localhost/hooks",
            "http://169.254.169.254/latest/meta-data",
            "http://10.1.2.3/hooks",
            "http://[::1]/hooks",
            "http://[::ffff:192.168.0.1]/hooks",
        ):
            response = client.post("/v1/webhooks", json={"url": url})
            assert_problem(response, 422, "webhook_url_not_allowed")
        assert_problem(client.post("/v1/webhooks", json={"url": "ftp://example.com/x"}), 422)
        reader = sqlite_service.new_key("acme", ["jobs:read", "jobs:write"])
        with sqlite_service.client(reader) as limited:
            assert_problem(limited.get("/v1/webhooks"), 403, "insufficient_scope")


def test_signed_deliveries_survive_a_down_receiver_and_an_api_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    service = _service(tmp_path, runner="none")
    with service.client() as client:
        endpoint = _create(client, receiver.url, events=["job.queued", "job.cancelled"])
        secret = endpoint["secret"]
        assert secret.startswith("whsec_")
        assert client.get(f"/v1/webhooks/{endpoint['id']}").json()["secret"] is None
        jobs = [submit(client, steps=20_000) for _ in range(5)]
        for job in jobs[:3]:
            client.post(f"/v1/jobs/{job['id']}/cancel")
        _until(lambda: len(receiver.requests) >= 16, what="retries")  # 8 events, >= 2 tries
        failing = _deliveries(client, endpoint["id"])
        assert len(failing) == 8 and {d["status"] for d in failing} == {"pending"}
        assert any(d["last_status_code"] == 503 for d in failing)
    service.server.stop()  # the outbox stays in the database

    with service.client() as client:
        # While no API runs, more state changes are queued, then a new process takes over.
        restarted = BackgroundServer(service.settings).start()
        client.base_url = httpx.URL(restarted.url)
        for job in jobs[3:]:
            client.post(f"/v1/jobs/{job['id']}/cancel")
        receiver.down = False
        _until(
            lambda: all(d["status"] == "delivered" for d in _deliveries(client, endpoint["id"])),
            what="every delivery acknowledged",
        )
        rows = _deliveries(client, endpoint["id"])
        restarted.stop()
    assert len(rows) == 10
    acknowledged = receiver.acknowledged()
    ids = Counter(headers["webhook-id"] for headers, _ in acknowledged)
    assert set(ids) == {d["id"] for d in rows} and set(ids.values()) == {1}  # none twice
    payloads = _verified(secret, acknowledged)
    assert Counter(p["type"] for p in payloads) == {"job.queued": 5, "job.cancelled": 5}
    assert {p["data"]["id"] for p in payloads} == {j["id"] for j in jobs}
    headers, body = acknowledged[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"job", b"jab"), headers)


def test_disable_enable_redeliver_and_rotate(tmp_path: Path, receiver: Receiver) -> None:
    service = _service(tmp_path, runner="none", webhook_disable_after_seconds=1)
    try:
        with service.client() as client:
            endpoint = _create(client, receiver.url, events=["job.queued"])
            job = submit(client, steps=20_000)
            _until(
                lambda: not client.get(f"/v1/webhooks/{endpoint['id']}").json()["enabled"],
                what="the endpoint to be disabled",
            )
            disabled = client.get(f"/v1/webhooks/{endpoint['id']}").json()
            assert "every delivery failed" in disabled["disabled_reason"]
            events = client.get("/v1/audit/events", params={"action": "webhook.disabled"})
            assert [e["object_id"] for e in events.json()["data"]] == [endpoint["id"]]
            tried = len(receiver.requests)
            time.sleep(1)
            assert len(receiver.requests) == tried  # nothing is sent to a disabled endpoint

            receiver.down = False
            assert client.post(f"/v1/webhooks/{endpoint['id']}/enable").json()["enabled"]
            _until(lambda: len(receiver.acknowledged()) == 1, what="delivery after enabling")
            _until(  # the 204 is recorded just after the receiver sent it
                lambda: _deliveries(client, endpoint["id"])[0]["status"] == "delivered",
                what="the delivery to be recorded",
            )
            [delivery] = _deliveries(client, endpoint["id"])
            assert delivery["status"] == "delivered" and delivery["attempts"] >= 2

            rotated = client.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret").json()
            assert rotated["secret"] != endpoint["secret"]
            grace_end = rotated["previous_secret_expires_at"]
            assert abs(grace_end - (time.time() + 86_400)) < 60  # the default grace: a day
            again = client.post(
                f"/v1/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/redeliver"
            )
            assert again.status_code == 202 and again.json()["status"] == "pending"
            _until(lambda: len(receiver.acknowledged()) == 2, what="the redelivery")
            first, second = receiver.acknowledged()
            assert first[0]["webhook-id"] == second[0]["webhook-id"] == delivery["id"]
            # Right after a rotation a receiver holding either secret verifies the delivery.
            assert len(second[0]["webhook-signature"].split(" ")) == 2
            for secret in (rotated["secret"], endpoint["secret"]):
                assert Webhook(secret).verify(second[1], second[0])["data"]["id"] == job["id"]
            with pytest.raises(WebhookVerificationError):
                Webhook(new_secret()).verify(second[1], second[0])

            with httpx.Client(base_url=service.url, timeout=60) as browser:
                assert sign_in(browser, service.admin_key).status_code == 303
                shown = browser.get("/dashboard/webhooks")
                assert shown.status_code == 200
                assert receiver.url in shown.text and delivery["id"] in shown.text

            assert client.delete(f"/v1/webhooks/{endpoint['id']}").status_code == 204
            assert_problem(client.get(f"/v1/webhooks/{endpoint['id']}"), 404, "webhook_not_found")
            submit(client, steps=20_000)
            time.sleep(0.5)
            assert len(receiver.acknowledged()) == 2
    finally:
        service.server.stop()


def test_the_old_secret_signs_only_during_the_rotation_grace(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.down = False
    service = _service(tmp_path, runner="none", webhook_rotation_grace_seconds=1)
    try:
        with service.client() as client:
            endpoint = _create(client, receiver.url, events=["job.queued"])
            assert endpoint["previous_secret_expires_at"] is None
            rotated = client.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret").json()
            assert rotated["previous_secret_expires_at"] <= time.time() + 1
            time.sleep(2)  # the grace period is over
            submit(client, steps=20_000)
            _until(lambda: len(receiver.acknowledged()) == 1, what="the delivery")
            [(headers, body)] = receiver.acknowledged()
            assert len(headers["webhook-signature"].split(" ")) == 1
            assert Webhook(rotated["secret"]).verify(body, headers)["type"] == "job.queued"
            with pytest.raises(WebhookVerificationError):
                Webhook(endpoint["secret"]).verify(body, headers)
    finally:
        service.server.stop()


def test_a_real_job_reports_each_state(tmp_path: Path, receiver: Receiver) -> None:
    receiver.down = False
    service = _service(tmp_path)
    try:
        with service.client() as client:
            endpoint = _create(client, receiver.url)
            other = service.new_key("globex", ["jobs:read", "jobs:write"])
            with service.client(other) as theirs:
                theirs_job = submit(theirs, steps=20_000, probes="off")  # not sent here
                theirs.post(f"/v1/jobs/{theirs_job['id']}/cancel")
            job = submit(client, steps=3, eval_samples_per_class=2, probes="off")
            wait_for(client, job["id"], {"succeeded"})
            _until(lambda: len(receiver.acknowledged()) == 3, what="three state changes")
        payloads = _verified(endpoint["secret"], receiver.acknowledged())
        assert [p["type"] for p in payloads] == ["job.queued", "job.running", "job.succeeded"]
        assert {p["data"]["id"] for p in payloads} == {job["id"]}
        assert payloads[-1]["data"]["verdict"] in ("forgotten", "not_forgotten")
        assert json.loads(json.dumps(payloads[-1]))["data"]["from"] == "running"
    finally:
        service.server.stop()
