"""Worker nodes as they advertise themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.db import unix
from domain.workers.models import Worker


class WorkerOut(BaseModel):
    name: str = Field(description="The Celery node name (`sfd worker --name`).")
    object: Literal["worker"] = "worker"
    device: str
    gpus: int = Field(description="GPUs given with `sfd worker --gpus` (0 without).")
    slots: int = Field(description="Pool processes: jobs the node runs at once.")
    started_at: int
    seen_at: int = Field(description="Its last advert.")
    live: bool = Field(description="Seen within three SFD_WORKER_ADVERT_SECONDS.")

    @classmethod
    def of(cls, worker: Worker, live_after: datetime) -> WorkerOut:
        return cls(
            name=worker.name,
            device=worker.device,
            gpus=worker.gpus,
            slots=worker.slots,
            started_at=unix(worker.started_at) or 0,
            seen_at=unix(worker.seen_at) or 0,
            live=worker.seen_at > live_after,
        )
