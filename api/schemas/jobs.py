"""Forget-requests (jobs) and their events."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StringConstraints

from api.schemas.common import RequestBody
from domain.db import unix
from domain.jobs.models import Job, JobEvent
from domain.jobs.validation import JobRequest
from domain.jobs.verdict import failed_criteria
from sfd_core.presets import describe_default_steps

Concept = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Concepts = Annotated[list[Concept], Field(min_length=1, max_length=32)]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MetadataValue = Annotated[str, StringConstraints(max_length=512)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
HyperparameterName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
JobStatus = Literal["queued", "running", "cancelling", "succeeded", "failed", "cancelled"]
Probes = Literal["full", "quick", "off"]
Verdict = Literal["forgotten", "not_forgotten"]
# Policy limits are JSON numbers (no strings, no booleans), as the engine's policy takes them.
Share = Annotated[float, Field(ge=0, le=1, strict=True, allow_inf_nan=False)]
FdRatio = Annotated[float, Field(ge=1, le=1000, strict=True, allow_inf_nan=False)]
RelearningRatio = Annotated[float, Field(ge=0, le=10, strict=True, allow_inf_nan=False)]


Prompt = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Prompts = Annotated[list[Prompt], Field(min_length=1, max_length=256)]


class TextOptions(RequestBody):
    """Text-to-image forget-requests: where the forget and retain prompts come from."""

    prompts: Prompts | None = Field(
        None, description="Candidate prompts; those naming a concept are forgotten."
    )
    retain_prompts: Prompts | None = Field(
        None, description="Prompts whose images must not change."
    )
    templates: Prompts | None = Field(
        None,
        description="Prompt templates with '{}' where the concept goes.",
        examples=[["a photo of {}"]],
    )
    negative_prompt: Prompt | None = Field(
        None, description="Negative prompt for the forget branch."
    )
    paraphrases: Prompts | None = Field(
        None,
        description="Other wordings of the concept that the attack probes' prompt search tries.",
        examples=[["a crimson circle"]],
    )


class PolicyOverrides(RequestBody):
    """Forgetting-policy limits for one job, over the deployment's (SFD_FORGETTING_POLICY)."""

    max_forget_rate: Share | None = Field(
        None, description="Most the forgotten concept may still show in generated samples."
    )
    max_attack_success: Share | None = Field(None, description="Most any attack may succeed.")
    max_attack_over_reference: Share | None = Field(
        None, description="Or at most this far above a model that never learned the concept."
    )
    max_accuracy_drop: Share | None = Field(
        None, description="Most the retained accuracy may fall below the teacher's."
    )
    max_fd_ratio: FdRatio | None = Field(
        None, description="Most the retained Frechet distance may be, in teacher FDs."
    )
    min_relearning_ratio: RelearningRatio | None = Field(
        None, description="Least share of a reference model's relearning steps fine-tuning needs."
    )
    require_probes: StrictBool | None = Field(
        None, description="Without attack probes the verdict cannot be forgotten."
    )


class JobCreate(RequestBody):
    """A forget-request: unlearn ``unsafe_concept`` from ``model``, mapping it to
    ``safe_surrogate``."""

    model: str = Field(min_length=1, max_length=200, examples=["digits"])
    unsafe_concept: Concept | Concepts = Field(examples=["0"])
    safe_surrogate: Concept | Concepts | None = Field(None, examples=["1"])
    surrogate_mode: Literal["fixed", "random"] = "fixed"
    steps: int | None = Field(
        None,
        ge=1,
        description="Distillation steps (upper bound: SFD_MAX_STEPS; default: the model's, "
        f"{describe_default_steps()}).",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1)
    hyperparameters: dict[HyperparameterName, bool | int | FiniteFloat] = Field(
        default_factory=dict, max_length=64, examples=[{"batch_size": 32}]
    )
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict, max_length=16)
    options: TextOptions | None = Field(None, description="Text-to-image models only.")
    eval_samples_per_class: int = Field(
        100, ge=1, le=2000, description="Samples per class for the report's metrics."
    )
    probes: Probes | None = Field(
        None, description="Attack probes after evaluation (default: the deployment's SFD_PROBES)."
    )
    policy: PolicyOverrides | None = Field(
        None, description="Forgetting-policy limits the verdict is judged by, for this job."
    )
    gpus: int = Field(
        1,
        ge=1,
        le=64,
        description="Data-parallel processes (one GPU each on a GPU worker; upper bound: "
        "SFD_MAX_JOB_GPUS). The batch is split over them.",
    )

    def to_request(self) -> JobRequest:
        def as_list(value: str | list[str] | None) -> list[str] | None:
            return [value] if isinstance(value, str) else value

        return JobRequest(
            model=self.model,
            unsafe=as_list(self.unsafe_concept) or [],
            surrogate=as_list(self.safe_surrogate),
            surrogate_mode=self.surrogate_mode,
            steps=self.steps,
            seed=self.seed,
            hyperparameters=dict(self.hyperparameters),
            options=self.options.model_dump(exclude_none=True) if self.options else {},
            metadata=dict(self.metadata),
            eval_samples_per_class=self.eval_samples_per_class,
            probes=self.probes,
            policy=self.policy.model_dump(exclude_none=True) if self.policy else {},
            gpus=self.gpus,
        )


class Progress(BaseModel):
    phase: str | None
    step: int
    total: int
    eta_seconds: float | None


class JobError(BaseModel):
    code: str
    message: str | None


class JobOut(BaseModel):
    id: str
    object: Literal["unlearning.job"] = "unlearning.job"
    model: str
    unsafe_concept: list[str]
    safe_surrogate: list[str] | None
    surrogate_mode: str
    steps: int
    seed: int
    eval_samples_per_class: int
    hyperparameters: dict[str, Any]
    options: dict[str, Any]
    metadata: dict[str, str]
    probes: Probes
    policy: dict[str, Any] = Field(description="The job's own policy overrides.")
    gpus: int = Field(description="Data-parallel processes the job runs on.")
    status: JobStatus
    verdict: Verdict | None = Field(description="Set when the job succeeds; null until then.")
    failed_criteria: list[str] = Field(description="Policy criteria the report did not meet.")
    progress: Progress
    losses: dict[str, float | None] | None
    metrics: dict[str, Any] | None
    error: JobError | None
    attempt: int
    created_at: int
    started_at: int | None
    finished_at: int | None
    cancel_requested_at: int | None
    artifacts_deleted_at: int | None = Field(
        None, description="When the job's stored files were deleted (by request or retention)."
    )

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            model=job.model_id,
            unsafe_concept=job.unsafe,
            safe_surrogate=job.surrogate,
            surrogate_mode=job.surrogate_mode,
            steps=job.steps,
            seed=job.seed,
            eval_samples_per_class=job.eval_samples_per_class,
            hyperparameters=job.hyperparameters,
            options=job.options,
            metadata=job.job_metadata,
            probes=job.probes,
            policy=job.policy,
            gpus=job.gpus,
            status=job.status,
            verdict=job.verdict,
            failed_criteria=failed_criteria(job.latest_metrics) if job.verdict else [],
            progress=Progress(
                phase=job.progress_phase,
                step=job.progress_step,
                total=job.progress_total,
                eta_seconds=job.eta_seconds,
            ),
            losses=job.latest_losses,
            metrics=job.latest_metrics,
            error=JobError(code=job.error_code, message=job.error_message)
            if job.error_code
            else None,
            attempt=job.attempt,
            created_at=unix(job.created_at) or 0,
            started_at=unix(job.started_at),
            finished_at=unix(job.finished_at),
            cancel_requested_at=unix(job.cancel_requested_at),
            artifacts_deleted_at=unix(job.artifacts_deleted_at),
        )


class JobEventOut(BaseModel):
    id: int
    object: Literal["unlearning.job.event"] = "unlearning.job.event"
    type: Literal["state", "progress", "metrics", "log"]
    created_at: int
    data: dict[str, Any]

    @classmethod
    def of(cls, event: JobEvent) -> JobEventOut:
        return cls(
            id=event.seq, type=event.type, created_at=unix(event.created_at) or 0, data=event.data
        )  # type: ignore[arg-type]
