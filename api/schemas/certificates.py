"""Certificates: DSSE envelopes (https://github.com/secure-systems-lab/dsse)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Signature(BaseModel):
    keyid: str
    sig: str = Field(description="Base64 Ed25519 signature over the DSSE PAE.")


class Envelope(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    payload: str = Field(description="Base64 of the in-toto Statement v1 (JSON).")
    payloadType: str = Field(examples=["application/vnd.in-toto+json"])  # noqa: N815
    signatures: list[Signature]
