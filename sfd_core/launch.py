"""One forget-request on several processes, started by torchrun, watched through a folder.

Each rank runs ``python -m sfd_core.launch`` (torchrun sets ``RANK``, ``WORLD_SIZE`` ...) and
calls :func:`~sfd_core.job.run_unlearning`. Rank 0 talks to whoever started the job through a
control folder, so the engine needs no socket or database: it appends progress, checkpoint,
result and error records to ``events.jsonl``, and stops between steps once a ``stop`` file
appears or the watched process (the launcher) is gone. :func:`run_distributed` is the
launcher's side: the same hooks as ``run_unlearning``, for ``sfd unlearn --nproc`` and workers.

Several hosts: run the rank command under ``torchrun --nnodes`` yourself (docs/DISTRIBUTED.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .conditions import ForgetSpecError
from .config import ConfigError
from .loading import ModelLoadError
from .progress import ProgressCallback, ProgressEvent, StopCheck

EVENTS, STOP, REQUEST = "events.jsonl", "stop", "request.json"
POLL_SECONDS = 0.2


class RankError(RuntimeError):
    """Rank 0 failed; ``kind`` is ``invalid_request`` (bad input) or ``engine_error``."""

    def __init__(self, kind: str, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.details = kind, message, details


class RanksLost(RuntimeError):
    """The process group ended without a result (a rank was killed or crashed)."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Control:
    """Rank 0's end of the control folder."""

    def __init__(self, folder: Path, watch_pid: int | None) -> None:
        self.folder, self.watch_pid = folder, watch_pid

    def emit(self, record: dict[str, Any]) -> None:
        with (self.folder / EVENTS).open("a") as f:
            f.write(json.dumps(record) + "\n")

    def should_stop(self) -> bool:
        gone = self.watch_pid is not None and not pid_alive(self.watch_pid)
        return gone or (self.folder / STOP).exists()


def _rank_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of one rank (``python -m sfd_core.launch``, started by torchrun)."""
    from . import distributed
    from .job import UnlearnRequest, run_unlearning

    parser = argparse.ArgumentParser(prog="python -m sfd_core.launch")
    parser.add_argument("--control", type=Path, required=True, help="control folder (rank 0)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (rank 0)")
    parser.add_argument("--request", type=Path, help="request JSON (default CONTROL/request.json)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--checkpoint-dir", type=Path)
    parser.add_argument("--checkpoint-every", type=int, default=0)
    parser.add_argument("--watch-pid", type=int, help="stop when this process is gone")
    args = parser.parse_args(argv)

    world = distributed.World.from_env()
    main = world.is_main
    if main:
        args.control.mkdir(parents=True, exist_ok=True)
    control = _Control(args.control, args.watch_pid)
    try:
        world, device = distributed.init(args.device)
        data = json.loads((args.request or args.control / REQUEST).read_text())
        try:
            request = UnlearnRequest(**data)
        except TypeError as exc:
            raise ConfigError(f"not a forget-request: {exc}") from None

        def progress(event: ProgressEvent) -> None:
            control.emit({"type": "progress", **dataclasses.asdict(event)})

        def checkpointed(path: Path) -> None:
            control.emit({"type": "checkpoint", "path": str(path)})

        result = run_unlearning(
            request,
            args.out,
            device=device,
            on_progress=progress if main else None,
            should_stop=control.should_stop if main else None,
            checkpoint_dir=args.checkpoint_dir,
            checkpoint_every=args.checkpoint_every,
            on_checkpoint=checkpointed,
            world=world,
        )
        if main:
            control.emit({"type": "result", "status": result.status, "report": result.report})
        return 0
    except distributed.PeerLost:
        raise  # no error record: the launcher reads the missing result as a lost rank
    except (ModelLoadError, ForgetSpecError, ConfigError) as exc:
        if main:
            control.emit({"type": "error", "kind": "invalid_request", "message": str(exc)})
        return 1
    except Exception as exc:
        if main:
            message = f"{type(exc).__name__}: {exc}"
            details = traceback.format_exc()
            control.emit(
                {"type": "error", "kind": "engine_error", "message": message, "details": details}
            )
        raise
    finally:
        if world.distributed and distributed.dist.is_initialized():
            distributed.dist.destroy_process_group()


def torchrun_command(nproc: int, rank_args: Sequence[str]) -> list[str]:
    """The standard launcher on this host: ``nproc`` ranks, a free rendezvous port."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "--max-restarts=0",
        "-m",
        "sfd_core.launch",
        *rank_args,
    ]


def run_distributed(
    request: Any,
    out_dir: Path,
    nproc: int,
    control_dir: Path,
    *,
    device: str = "cpu",
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    checkpoint_dir: Path | None = None,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[Path], None] | None = None,
    env: dict[str, str] | None = None,
) -> Any:
    """Run ``request`` (an :class:`~sfd_core.job.UnlearnRequest`) on ``nproc`` local ranks under
    torchrun, relaying rank 0's progress and checkpoints to the hooks and ``should_stop`` to the
    ranks; the :class:`~sfd_core.job.JobResult`. Raises :class:`RankError` if rank 0 failed,
    :class:`RanksLost` if the ranks ended without a result."""
    from .job import JobResult

    control_dir.mkdir(parents=True, exist_ok=True)
    (control_dir / EVENTS).unlink(missing_ok=True)
    (control_dir / STOP).unlink(missing_ok=True)
    (control_dir / REQUEST).write_text(json.dumps(dataclasses.asdict(request)))
    rank_args = ["--control", str(control_dir), "--out", str(out_dir), "--device", device]
    rank_args += ["--watch-pid", str(os.getpid())]
    if checkpoint_dir is not None:
        rank_args += ["--checkpoint-dir", str(checkpoint_dir)]
        rank_args += ["--checkpoint-every", str(checkpoint_every)]
    process = subprocess.Popen(torchrun_command(nproc, rank_args), env=env)
    reader = _EventReader(control_dir / EVENTS)
    final: dict[str, Any] | None = None
    try:
        while True:
            returncode = process.poll()
            for record in reader.read():
                kind = record.pop("type")
                if kind == "progress" and on_progress is not None:
                    on_progress(ProgressEvent(**record))
                elif kind == "checkpoint" and on_checkpoint is not None:
                    on_checkpoint(Path(record["path"]))
                elif kind in ("result", "error"):
                    final = {"type": kind, **record}
            if returncode is not None:
                break
            if should_stop is not None and should_stop():
                (control_dir / STOP).touch()
            time.sleep(POLL_SECONDS)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait()
    if final is not None and final["type"] == "error":
        raise RankError(final["kind"], final["message"], final.get("details"))
    if final is None or process.returncode != 0:
        raise RanksLost(f"the ranks ended without a result (torchrun exit code {returncode})")
    return JobResult(final["status"], final["report"], Path(out_dir))


class _EventReader:
    """Complete lines appended to a file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return [json.loads(line) for line in complete.splitlines() if line.strip()]


if __name__ == "__main__":
    sys.exit(_rank_main())
