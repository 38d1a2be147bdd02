"""The ``base_models`` table. A row with no tenant (a bundled model) is visible to all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, UTCDateTime, utcnow
from domain.types import JSONType


class BaseModelRecord(Base):
    __tablename__ = "base_models"
    # A tenant's names are unique: jobs may name their model. Bundled rows have no tenant.
    __table_args__ = (UniqueConstraint("tenant", "name", name="uq_base_models_tenant_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source_type: Mapped[str] = mapped_column(String(16))  # bundled | upload | uri | path
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    class_names: Mapped[list[str] | None] = mapped_column(JSONType)
    sample_shape: Mapped[list[int]] = mapped_column(JSONType)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_key_id: Mapped[str | None] = mapped_column(String(40))
    # A deleted model keeps a tombstone (jobs and certificates name it), renamed to its id.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
