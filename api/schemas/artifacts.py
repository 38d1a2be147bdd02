"""Job artifacts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from domain.artifacts.models import Artifact
from domain.db import unix


class ArtifactOut(BaseModel):
    id: str
    object: Literal["artifact"] = "artifact"
    job_id: str
    name: str
    size: int
    sha256: str
    content_type: str
    created_at: int
    download_url: str
    deleted_at: int | None = None

    @classmethod
    def of(cls, artifact: Artifact) -> ArtifactOut:
        return cls(
            id=artifact.id,
            job_id=artifact.job_id,
            name=artifact.name,
            size=artifact.size,
            sha256=artifact.sha256,
            content_type=artifact.content_type,
            created_at=unix(artifact.created_at) or 0,
            download_url=f"/v1/jobs/{artifact.job_id}/artifacts/{artifact.name}",
            deleted_at=unix(artifact.deleted_at),
        )


class PresignedDownload(BaseModel):
    object: Literal["artifact.download"] = "artifact.download"
    name: str
    sha256: str
    url: str
    expires_at: int
