"""DNS rebinding: a webhook host that resolves to a public address when it is checked and to
loopback a moment later must not reach loopback. The delivery goes to the address that was
checked (with the name kept in Host and as TLS's server name), so the receiver on 127.0.0.1
hears nothing. The resolver is the one part replaced here; the HTTP client, the dispatcher and
the receiver are real."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from domain.db import Database
from domain.settings import Settings
from domain.webhooks import urls
from domain.webhooks.dispatch import Claimed, Dispatcher
from domain.webhooks.service import new_secret

from .test_webhooks import Receiver

PUBLIC = "93.184.216.34"  # a global address (never reached: the sandbox has no route out)


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """``*.rebind.test`` answers PUBLIC the first time and 127.0.0.1 after; other names (and
    address literals) resolve as usual. Yields the answers given, in order."""
    real: Callable = socket.getaddrinfo
    answers: list[str] = []

    def resolve(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(host, bytes):
            host = host.decode()
        if not host.endswith(".rebind.test"):
            return real(host, port, *args, **kwargs)
        answers.append(PUBLIC if not answers else "127.0.0.1")
        return real(answers[-1], port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    yield answers


def test_a_host_that_rebinds_to_loopback_after_the_check_is_not_reached(
    tmp_path: Path, rebinding_dns: list[str]
) -> None:
    receiver = Receiver()
    receiver.down = False
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    settings = Settings(home=tmp_path, webhook_allow_private=False, webhook_timeout_seconds=2)
    db = Database(f"sqlite:///{tmp_path / 'sfd.db'}")
    dispatcher = Dispatcher(db, settings)
    try:
        item = Claimed(
            "msg_1", "we_1", f"http://hooks.rebind.test:{port}/hooks", new_secret(), "{}", 1
        )
        outcome = dispatcher.send(item)
    finally:
        dispatcher.close()
        receiver.close()
        db.dispose()
    assert not outcome.ok
    assert rebinding_dns == [PUBLIC]  # resolved once, at the check; the request used that
    assert receiver.requests == []


def test_the_pinned_request_keeps_the_name_for_host_and_tls(rebinding_dns: list[str]) -> None:
    target = urls.pin("https://hooks.rebind.test:8443/x?y=1", allow_private=False)
    assert str(target.url) == f"https://{PUBLIC}:8443/x?y=1"
    assert target.headers == {"Host": "hooks.rebind.test:8443"}
    assert target.extensions == {"sni_hostname": "hooks.rebind.test"}
    assert urls.pin("http://127.0.0.1:9/x", allow_private=True).url.host == "127.0.0.1"
