"""One unlearning job, end to end: the engine's entry point for the CLI, the API and workers.

``run_unlearning`` loads the teacher, distils it with SFD (resuming from a checkpoint if one is
there), evaluates the one-step generator against the teacher's multi-step sampler and writes
``generator/``, ``report.json`` and ``samples.png`` into the output folder. Under
torch.distributed (:mod:`sfd_core.launch` runs it on every rank) all ranks train and rank 0
alone evaluates, probes and saves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .conditions import ForgetPlan, ForgetSpec
from .config import ConfigError, SFDConfig
from .distributed import World
from .evaluation.report import evaluate_job
from .generator import save_generator
from .limits import ModelLimits
from .loading import folder_sha256, load_teacher
from .policy import ForgettingPolicy, judge_report
from .presets import default_steps, job_defaults
from .probes import PROBE_CHOICES, probe_generator
from .progress import ProgressCallback, ProgressEvent, StopCheck
from .text.evaluate import evaluate_text_job
from .text.generator import save_text_generator
from .trainer import SFDTrainer

CHECKPOINT_FILE = "checkpoint.safetensors"


@dataclass
class UnlearnRequest:
    """A forget-request as the engine takes it (names, not ids)."""

    model: str
    unsafe: list[str]
    surrogate: list[str] | str | None = None
    surrogate_mode: str = "fixed"
    steps: int | None = None  # None: the model's default_steps
    seed: int = 0
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    eval_samples_per_class: int = 100
    # Attack probes run after evaluation: "full", "quick" or "off" (see sfd_core.probes).
    probes: str = "full"
    # Forgetting-policy fields over the defaults (deployment and job layers, merged by caller).
    policy: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.steps is None:
            self.steps = default_steps(self.model)

    def spec(self) -> ForgetSpec:
        return ForgetSpec.create(self.unsafe, self.surrogate, self.surrogate_mode)  # type: ignore[arg-type]

    def config(self, ranks: int = 1) -> SFDConfig:
        """The run's hyperparameters on ``ranks`` processes: ``shards`` defaults to one per
        rank, and must split over them."""
        defaults = job_defaults(self.model, self.steps, ranks)
        config = SFDConfig.from_overrides(self.hyperparameters, **defaults)
        if config.shards % ranks:
            raise ConfigError(f"shards must be a multiple of the number of processes ({ranks})")
        return config

    def forgetting_policy(self) -> ForgettingPolicy:
        return ForgettingPolicy.from_overrides(self.policy)


@dataclass
class ModelSummary:
    """What a caller needs to validate requests against a model."""

    kind: str
    class_names: list[str] | None
    sha256: str
    sample_shape: tuple[int, ...]
    source: str
    prompts: list[str] | None = None  # a text model's own prompt list (its concepts), if any


@dataclass
class JobResult:
    status: str  # "succeeded" | "stopped" | "trained" (a rank other than 0: no evaluation)
    report: dict[str, Any]
    out_dir: Path


def describe_model(ref: str, limits: ModelLimits | None = None) -> ModelSummary:
    """Load a model's configuration and weights and say what it is (raises ModelLoadError,
    and :class:`~sfd_core.limits.ModelTooLarge` for a config over ``limits``)."""
    teacher = load_teacher(ref, limits=limits)
    return ModelSummary(
        kind=teacher.kind,
        class_names=getattr(teacher, "class_names", None),
        sha256=teacher.sha256,
        sample_shape=teacher.sample_shape,
        source=teacher.source,
        prompts=list(getattr(teacher, "prompts", None) or []) or None,
    )


def validate_request(request: UnlearnRequest, ranks: int = 1) -> ModelSummary:
    """Every check that can fail before a job is queued on ``ranks`` processes: model, spec,
    hyperparameters."""
    request.config(ranks)
    request.forgetting_policy()
    if request.probes not in PROBE_CHOICES:
        raise ValueError(f"probes must be one of {', '.join(PROBE_CHOICES)}")
    spec = request.spec()
    teacher = load_teacher(request.model)
    teacher.plan(spec, **request.options)
    if not 1 <= request.eval_samples_per_class <= 2000:
        raise ValueError("eval_samples_per_class must be between 1 and 2000")
    return ModelSummary(
        kind=teacher.kind,
        class_names=getattr(teacher, "class_names", None),
        sha256=teacher.sha256,
        sample_shape=teacher.sample_shape,
        source=teacher.source,
        prompts=list(getattr(teacher, "prompts", None) or []) or None,
    )


def _surrogate_map(plan: ForgetPlan, spec: ForgetSpec) -> dict[int, int] | None:
    if spec.mode == "random":
        return None
    return {int(f): int(s[0]) for f, s in zip(plan.forget_ids, plan.surrogate_ids, strict=True)}


def run_unlearning(
    request: UnlearnRequest,
    out_dir: Path,
    *,
    device: str | torch.device = "cpu",
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    checkpoint_dir: Path | None = None,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[Path], None] | None = None,
    world: World | None = None,
) -> JobResult:
    """Run one forget-request to completion (or until ``should_stop`` says so); on ``world``
    (this process's rank of a torch.distributed job), only rank 0 evaluates and saves."""
    world = world or World()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    policy = request.forgetting_policy()
    config = request.config(world.size)
    spec = request.spec()
    teacher = load_teacher(request.model, device)
    plan = teacher.plan(spec, **request.options)
    teacher.configure(config)
    trainer = SFDTrainer(
        teacher.denoiser,
        plan,
        config,
        teacher.sample_shape,
        seed=request.seed,
        device=device,
        world=world,
    )
    checkpoint_path = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir else None
    if checkpoint_path is not None and checkpoint_path.is_file():
        trainer.load_checkpoint(checkpoint_path)

    started = time.monotonic()
    completed = trainer.run(
        on_progress=on_progress,
        should_stop=should_stop,
        checkpoint_path=checkpoint_path,
        checkpoint_every=checkpoint_every,
        on_checkpoint=on_checkpoint,
    )
    train_seconds = time.monotonic() - started
    if not completed:
        return JobResult("stopped", {"steps_done": trainer.step}, out_dir)
    ema = trainer.ema
    if ema is None:  # not rank 0
        return JobResult("trained", {"steps_done": trainer.step}, out_dir)

    def report_phase(phase: str, message: str) -> None:
        if on_progress is not None:
            elapsed = time.monotonic() - started
            on_progress(
                ProgressEvent(phase, trainer.step, config.steps, elapsed, 0.0, message=message)
            )

    text = teacher.kind == "text"
    report_phase("evaluate", "evaluating the generator against the teacher")
    if text:
        evaluation = evaluate_text_job(teacher, ema, config, request.eval_samples_per_class)
    else:
        evaluation = evaluate_job(
            teacher,
            ema,
            plan,
            spec,
            config,
            request.eval_samples_per_class,
            model_name=request.model,
            surrogate_for=_surrogate_map(plan, spec),
        )
    evaluation.grid.save(out_dir / "samples.png")

    robustness = None
    if request.probes != "off":
        report_phase("probe", f"attacking the generator ({request.probes} probe budget)")
        probed = probe_generator(
            teacher,
            ema,
            plan,
            spec,
            sigma_init=config.sigma_init,
            budget=request.probes,
            seed=request.seed,
            should_stop=should_stop,
        )
        if probed is None:
            return JobResult("stopped", {"steps_done": trainer.step}, out_dir)
        robustness = probed.section
        if probed.image is not None:
            probed.image.save(out_dir / "robustness.png")

    report_phase("save", "saving the generator")
    generator_dir = out_dir / "generator"
    extra = {
        "forget": spec.to_dict(),
        "teacher": {"source": teacher.source, "sha256": teacher.sha256},
        "training": {"steps": config.steps, "seed": request.seed, "config": config.to_dict()},
    }
    if text:
        extra["prompts"] = evaluation.report["prompts"]
        save_text_generator(ema, generator_dir, teacher, sigma_init=config.sigma_init, extra=extra)
    else:
        save_generator(
            ema,
            generator_dir,
            sigma_init=config.sigma_init,
            sample_shape=teacher.sample_shape,
            class_names=teacher.class_names,
            null_id=teacher.null_id,
            scheduler_config=teacher.scheduler_config,
            extra=extra,
        )
    report = {
        "model": request.model,
        "teacher_sha256": teacher.sha256,
        "generator_sha256": folder_sha256(generator_dir),
        "forget": spec.to_dict(),
        "steps": config.steps,
        "seed": request.seed,
        "hyperparameters": config.to_dict(),
        "wall_seconds": round(train_seconds, 3),
        "device": str(device),
        "cpu_threads": torch.get_num_threads(),
        "processes": world.size,
        **evaluation.report,
        "robustness": robustness,
    }
    report["verdict"] = judge_report(report, policy)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    return JobResult("succeeded", report, out_dir)
