"""A certificate as an in-toto attestation: a Statement v1 whose subjects are the job's
artifacts (by sha256) and whose predicate is the unlearning evidence, in a DSSE envelope
signed with the service's Ed25519 key.

``in_toto_attestation`` checks the statement's shape; the JSON is written here because its
protobuf form turns every number into a float (a step count of 400 would read 400.0).
"""

from __future__ import annotations

import json
from typing import Any

from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement

from domain.hashing import canonical_json
from domain.signing import Keyring, SignatureProblem, verify_envelope

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://sfd-unlearn.dev/unlearning-certificate/v1"


def statement(predicate: dict[str, Any]) -> dict[str, Any]:
    """The Statement v1 of ``predicate``: one subject per certified artifact."""
    artifacts = (predicate.get("output") or {}).get("artifacts") or []
    subjects = [{"name": a["name"], "digest": {"sha256": a["sha256"]}} for a in artifacts]
    checked = Statement(
        subjects=[ResourceDescriptor(name=s["name"], digest=s["digest"]).pb for s in subjects],
        predicate_type=PREDICATE_TYPE,
        predicate=json.loads(canonical_json(predicate)),
    )
    checked.validate()  # raises ValueError: no subjects, a subject without a digest, ...
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def sign(predicate: dict[str, Any], keyring: Keyring) -> dict[str, Any]:
    """The signed certificate: a DSSE envelope of the statement."""
    return keyring.sign(canonical_json(statement(predicate)), PAYLOAD_TYPE)


def open_envelope(envelope: Any, keys: list[Any]) -> dict[str, Any]:
    """The statement inside a certificate signed by one of ``keys`` (securesystemslib keys);
    else :class:`SignatureProblem`."""
    document = json.loads(verify_envelope(envelope, keys, PAYLOAD_TYPE))
    if not isinstance(document, dict) or document.get("_type") != STATEMENT_TYPE:
        raise SignatureProblem("the payload is not an in-toto Statement v1")
    if document.get("predicateType") != PREDICATE_TYPE:
        raise SignatureProblem(f"predicate type {document.get('predicateType')!r} is not ours")
    return document
