"""``/v1/signing-keys``: the public keys that verify certificates and audit checkpoints
(public, no API key needed): the active one and every retired one still trusted."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import AnchoringDep
from api.problems import responses
from api.schemas.common import ListOf

router = APIRouter(prefix="/v1/signing-keys", tags=["signing keys"], responses=responses(429))


class SigningKeyOut(BaseModel):
    keyid: str
    object: Literal["signing_key"] = "signing_key"
    algorithm: Literal["ed25519"] = "ed25519"
    status: str
    public_key_pem: str


@router.get("", response_model=ListOf[SigningKeyOut])
def list_signing_keys(anchoring: AnchoringDep) -> ListOf[SigningKeyOut]:
    """Key ids are securesystemslib's (sha256 of the key's canonical JSON); DSSE signatures
    name the key that made them."""
    keys = anchoring.keyring.keys.values()
    data = [SigningKeyOut(keyid=k.keyid, status=k.status, public_key_pem=k.pem) for k in keys]
    return ListOf[SigningKeyOut](data=data, has_more=False)
