"""Webhook delivery through a receiver outage (issue 14: "1,000 state changes with the
receiver down for the first minute: every delivery arrives, signed, none twice after the
receiver acknowledged it"); prints one JSON line.

    .venv/bin/python bench/webhook_delivery.py [--changes 1000] [--down 60]

A fresh PostgreSQL database and ``sfd serve`` on it (``SFD_RUNNER=none``,
``SFD_WEBHOOK_ALLOW_PRIVATE=true``, the default retry schedule), whose Periodic dispatcher
(``domain/webhooks/dispatch.py``) sends the outbox. An endpoint is registered for a port on
127.0.0.1 where nothing listens yet; ``--changes`` job state changes go through the API
(half ``POST /v1/jobs``: ``job.queued``, half ``POST /v1/jobs/{id}/cancel``:
``job.cancelled``), each writing its delivery in its own transaction. ``--down`` seconds after
the first change the receiver starts: it verifies each delivery's signature with the
``standardwebhooks`` library, answers 204 (400 for a bad signature) and notes each
``webhook-id``. Once every delivery is acknowledged the receiver listens ``--linger`` seconds
more for duplicates. Reported: deliveries (outbox rows, delivered, failed), requests the
receiver got, unique ids, duplicates after an acknowledgement, bad signatures, seconds to drain
after the receiver came up, attempts per delivery (from the outbox).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
from load_mixed import ADMIN, free_port, start_api
from standardwebhooks import Webhook, WebhookVerificationError

JOB = {"model": "digits", "unsafe_concept": "0", "safe_surrogate": "1", "steps": 10}


class Receiver:
    """Verifies each delivery, answers 204 (400 if the signature is bad), counts ids."""

    def __init__(self, port: int, secret: str) -> None:
        self.lock = threading.Lock()
        self.acked: Counter[str] = Counter()
        self.requests = self.bad = 0
        self.last_new_ack = 0.0
        webhook, receiver = Webhook(secret), self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    webhook.verify(body, headers)
                    ok = True
                except WebhookVerificationError:
                    ok = False
                with receiver.lock:
                    receiver.requests += 1
                    if ok:
                        if not receiver.acked[headers["webhook-id"]]:
                            receiver.last_new_ack = time.monotonic()
                        receiver.acked[headers["webhook-id"]] += 1
                    else:
                        receiver.bad += 1
                self.send_response(204 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def state_changes(url: str, key: str, count: int, threads: int = 8) -> None:
    """``count`` state changes over HTTP: POST jobs, then cancel as many of them."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:

        def post(_: int) -> str:
            response = client.post("/v1/jobs", json=JOB)
            response.raise_for_status()
            return response.json()["id"]

        def cancel(job_id: str) -> None:
            client.post(f"/v1/jobs/{job_id}/cancel").raise_for_status()

        with ThreadPoolExecutor(threads) as pool:
            ids = list(pool.map(post, range(count - count // 2)))
            list(pool.map(cancel, ids[: count // 2]))


def outbox(database: str) -> dict[str, object]:
    with psycopg.connect(ADMIN.rsplit("/", 1)[0] + f"/{database}") as conn:
        by_status = dict(
            conn.execute("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")
        )
        total, mean, most = conn.execute(
            "SELECT sum(attempts), avg(attempts), max(attempts) FROM webhook_deliveries"
        ).fetchone()
        enabled = conn.execute("SELECT bool_and(enabled) FROM webhook_endpoints").fetchone()[0]
    return {
        "rows": sum(by_status.values()),
        "delivered": by_status.get("delivered", 0),
        "pending": by_status.get("pending", 0),
        "failed": by_status.get("failed", 0),
        "attempts_total": int(total or 0),
        "attempts_mean": round(float(mean or 0), 2),
        "attempts_max": int(most or 0),
        "endpoint_enabled": enabled,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--down", type=float, default=60, help="seconds the receiver is down")
    parser.add_argument("--linger", type=float, default=15, help="seconds to catch duplicates")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait to drain")
    args = parser.parse_args()
    database, admin = f"sfd_hooks_{secrets.token_hex(4)}", "sfd_admin_" + secrets.token_hex(16)
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    api = receiver = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port, hook_port = free_port(), free_port()
            url = f"http://127.0.0.1:{port}"
            env = {
                "SFD_WEBHOOK_ALLOW_PRIVATE": "true",
                "SFD_STORAGE_URL": (Path(tmp) / "artifacts").as_uri(),
            }
            api = start_api(Path(tmp), database, 1, port, admin, env)
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as c:
                hook = {"url": f"http://127.0.0.1:{hook_port}/hooks", "events": ["*"]}
                endpoint = c.post("/v1/webhooks", json=hook).json()
            began = time.monotonic()
            started: list[Receiver] = []
            timer = threading.Timer(
                args.down, lambda: started.append(Receiver(hook_port, endpoint["secret"]))
            )
            timer.start()  # the receiver comes up --down seconds after the first change
            state_changes(url, admin, args.changes)
            generated = time.monotonic() - began
            timer.join()
            receiver, up = started[0], began + args.down
            while len(receiver.acked) < args.changes and time.monotonic() - up < args.timeout:
                time.sleep(0.5)
            drained = receiver.last_new_ack - up if receiver.last_new_ack else None
            time.sleep(args.linger)
            with receiver.lock:
                duplicates = sum(n - 1 for n in receiver.acked.values())
                figures = {
                    "bench": "webhook_delivery",
                    "state_changes": args.changes,
                    "down_seconds": args.down,
                    "generate_seconds": round(generated, 1),
                    "outbox": outbox(database),
                    "received_requests": receiver.requests,
                    "acknowledged_unique": len(receiver.acked),
                    "duplicates_after_ack": duplicates,
                    "bad_signatures": receiver.bad,
                    "drain_seconds_after_up": None if drained is None else round(drained, 1),
                }
            print(json.dumps(figures))
    finally:
        if receiver is not None:
            receiver.close()
        if api is not None:
            os.killpg(api.pid, signal.SIGTERM)
            api.wait(timeout=60)
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
