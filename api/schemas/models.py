"""Base models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from api.schemas.common import RequestBody
from domain.base_models.models import BaseModelRecord
from domain.db import unix

Name = Field(None, min_length=1, max_length=200)


class ModelReference(RequestBody):
    """Register a model by reference: an ``s3://`` URI or a local path under SFD_MODEL_ROOTS."""

    name: str | None = Name
    uri: str | None = Field(
        None, min_length=6, max_length=2000, examples=["s3://models/teacher.tar"]
    )
    path: str | None = Field(None, min_length=1, max_length=4096)

    @model_validator(mode="after")
    def _one_source(self) -> ModelReference:
        if (self.uri is None) == (self.path is None):
            raise ValueError("give exactly one of uri or path")
        return self


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    name: str
    kind: str
    class_names: list[str] | None
    sample_shape: list[int]
    sha256: str
    source_type: str
    size_bytes: int
    owned_by: str
    created_at: int

    @classmethod
    def of(cls, model: BaseModelRecord) -> ModelOut:
        return cls(
            id=model.id,
            name=model.name,
            kind=model.kind,
            class_names=model.class_names,
            sample_shape=model.sample_shape,
            sha256=model.sha256,
            source_type=model.source_type,
            size_bytes=model.size_bytes,
            owned_by=model.tenant or "system",
            created_at=unix(model.created_at) or 0,
        )
