"""The service's Ed25519 signing keys and DSSE envelopes (securesystemslib).

The active key signs unlearning certificates and audit checkpoints; retired keys stay trusted
for verification, so rotating the key keeps every earlier signature verifiable. Key ids are
securesystemslib's: the sha256 of the public key's canonical JSON, computable from the public
key alone.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import FormatError, VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from domain.settings import Settings

KEY_DIR = "signing"
ACTIVE_FILE = "signing.key"
RETIRED_FILE = "retired.pem"
PEM_END = "-----END PUBLIC KEY-----"


class SignatureProblem(ValueError):
    """An envelope that does not verify; the message says why in one line."""


@dataclass(frozen=True)
class PublicKey:
    keyid: str
    key: SSlibKey
    pem: str
    status: str  # active | retired


def _public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def public_key(pem: str, status: str = "trusted") -> PublicKey:
    """A PEM Ed25519 public key as a verification key (raises :class:`ValueError`)."""
    loaded = serialization.load_pem_public_key(pem.encode())
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    key = SSlibKey.from_crypto(loaded)
    return PublicKey(key.keyid, key, _public_pem(loaded), status)


def public_keys(text: str, status: str = "trusted") -> list[PublicKey]:
    """Every PEM public key in ``text`` (a file may hold several, one after another)."""
    keys, block = [], []
    for line in text.splitlines():
        if line.strip():
            block.append(line.strip())
        if line.strip() == PEM_END:
            keys.append(public_key("\n".join(block) + "\n", status))
            block = []
    return keys


def new_private_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` (0600) atomically; if another process made it first, keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


class Keyring:
    """The active signer and every public key still trusted (active first)."""

    def __init__(self, private_pem: str, retired_pem: str = "") -> None:
        private = serialization.load_pem_private_key(private_pem.encode(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError("the signing key must be an Ed25519 private key (PEM, PKCS8)")
        active = public_key(_public_pem(private.public_key()), "active")
        self.signer = CryptoSigner(private, active.key)
        retired = [k for k in public_keys(retired_pem, "retired") if k.keyid != active.keyid]
        self.keys: dict[str, PublicKey] = {active.keyid: active}
        self.keys.update({k.keyid: k for k in retired})

    @property
    def active(self) -> PublicKey:
        return next(iter(self.keys.values()))

    def sign(self, payload: bytes, payload_type: str) -> dict[str, Any]:
        """A DSSE envelope of ``payload`` signed by the active key."""
        envelope = Envelope(payload=payload, payload_type=payload_type, signatures={})
        envelope.sign(self.signer)
        return envelope.to_dict()

    def verify(self, envelope: dict[str, Any], payload_type: str) -> bytes:
        return verify_envelope(envelope, [k.key for k in self.keys.values()], payload_type)


def load_keyring(settings: Settings) -> Keyring:
    """``SFD_SIGNING_KEY`` (else ``SFD_HOME/signing/signing.key``, made on first use) and the
    retired keys of ``SFD_SIGNING_RETIRED_KEYS`` and ``SFD_HOME/signing/retired.pem``."""
    folder = settings.home / KEY_DIR
    if settings.signing_key is not None:
        private = settings.signing_key.get_secret_value()
    else:
        path = folder / ACTIVE_FILE
        if not path.is_file():
            _write_new(path, new_private_pem())
        private = path.read_text()
    retired = settings.signing_retired_keys or ""
    if (folder / RETIRED_FILE).is_file():
        retired += "\n" + (folder / RETIRED_FILE).read_text()
    return Keyring(private, retired)


def rotate_key_file(settings: Settings) -> tuple[str, str]:
    """Retire the key in ``SFD_HOME/signing`` and make a new one: ``(old, new)`` key ids.
    Earlier signatures stay verifiable: the old public key joins ``retired.pem``."""
    if settings.signing_key is not None:
        raise ValueError(
            "SFD_SIGNING_KEY is set: rotate by setting a new key there and adding the old "
            "public key to SFD_SIGNING_RETIRED_KEYS"
        )
    old = load_keyring(settings).active
    folder = settings.home / KEY_DIR
    with (folder / RETIRED_FILE).open("a") as out:
        out.write(old.pem)
    replacement = folder / f".{ACTIVE_FILE}.new"
    replacement.write_text(new_private_pem())
    replacement.chmod(0o600)
    os.replace(replacement, folder / ACTIVE_FILE)
    return old.keyid, load_keyring(settings).active.keyid


def verify_envelope(envelope: Any, keys: list[SSlibKey], payload_type: str) -> bytes:
    """The payload of a DSSE ``envelope`` signed by one of ``keys``; else
    :class:`SignatureProblem` naming what is wrong."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("signatures"), list):
        raise SignatureProblem("not a DSSE envelope (payload, payloadType, signatures)")
    try:
        parsed = Envelope.from_dict(copy.deepcopy(envelope))  # from_dict edits its argument
    except (KeyError, TypeError, ValueError, binascii.Error, AttributeError, FormatError):
        raise SignatureProblem("not a DSSE envelope (payload, payloadType, signatures)") from None
    if parsed.payload_type != payload_type:
        raise SignatureProblem(f"payload type {parsed.payload_type!r}, expected {payload_type!r}")
    known = {key.keyid for key in keys}
    if not any(signature.keyid in known for signature in parsed.signatures.values()):
        named = ", ".join(parsed.signatures) or "none"
        raise SignatureProblem(f"signed with key(s) {named}, none of them trusted here")
    try:
        parsed.verify(keys, 1)
    except VerificationError:
        raise SignatureProblem(
            "the signature does not match the contents (the document was altered)"
        ) from None
    return parsed.payload


def decode_payload(envelope: dict[str, Any]) -> dict[str, Any]:
    """The JSON payload of an envelope, without checking its signature (for display)."""
    return json.loads(base64.b64decode(envelope["payload"]))
