"""The ``workers`` table: one row per running ``sfd worker`` node, kept fresh by its adverts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, UTCDateTime


class Worker(Base):
    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)  # Celery node hostname
    device: Mapped[str] = mapped_column(String(32))
    gpus: Mapped[int] = mapped_column(Integer)  # `sfd worker --gpus`; 0 without
    slots: Mapped[int] = mapped_column(Integer)  # pool processes (concurrency)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
