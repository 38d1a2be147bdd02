"""HMAC-SHA256 signatures over a certificate's canonical JSON (all fields but ``signature``)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from domain.hashing import canonical_json
from domain.keyfiles import secret_bytes
from domain.settings import Settings

ALGORITHM = "HMAC-SHA256"
KEY_FILE = "certificate.key"


def signing_key(settings: Settings) -> bytes:
    """``SFD_CERTIFICATE_KEY``, else ``SFD_HOME/certificate.key`` (made on first use)."""
    return secret_bytes(settings.certificate_key, settings.home / KEY_FILE)


def key_id(key: bytes) -> str:
    """A public fingerprint of the key, so a verifier can tell which key signed."""
    return hashlib.sha256(b"sfd-certificate-key\0" + key).hexdigest()[:16]


def _mac(body: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


def unsigned(document: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != "signature"}


def sign(document: dict[str, Any], key: bytes) -> dict[str, Any]:
    body = unsigned(document)
    signature = {"algorithm": ALGORITHM, "key_id": key_id(key), "value": _mac(body, key)}
    return {**body, "signature": signature}


def signature_problem(document: dict[str, Any], key: bytes) -> str | None:
    """None if ``document`` carries a valid signature by ``key``, else what is wrong."""
    signature = document.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        return "the certificate carries no signature"
    if signature.get("algorithm") != ALGORITHM:
        return f"unsupported signature algorithm {signature.get('algorithm')!r}"
    if signature.get("key_id") != key_id(key):
        return f"signed with key {signature.get('key_id')}, not with this key ({key_id(key)})"
    if not hmac.compare_digest(signature["value"], _mac(unsigned(document), key)):
        return "the signature does not match the contents (the certificate was altered)"
    return None
