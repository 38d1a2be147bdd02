"""Checks a forget-request against its model before it is queued (no weights are loaded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.base_models import service as base_models
from domain.base_models.models import BaseModelRecord
from domain.errors import Invalid
from domain.settings import Settings
from sfd_core.conditions import ForgetSpec, ForgetSpecError, plan_for_classes
from sfd_core.config import ConfigError, SFDConfig
from sfd_core.policy import ForgettingPolicy, PolicyError
from sfd_core.probes import PROBE_CHOICES
from sfd_core.text.prompts import build_prompt_table, clean_prompts


@dataclass(frozen=True)
class JobRequest:
    """A forget-request as the service takes it."""

    model: str
    unsafe: list[str]
    surrogate: list[str] | None
    surrogate_mode: str = "fixed"
    steps: int | None = None  # None: the model's default (sfd_core.job.default_steps)
    seed: int = 0
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    eval_samples_per_class: int = 100
    probes: str | None = None  # None: the deployment's SFD_PROBES
    policy: dict[str, Any] = field(default_factory=dict)
    gpus: int = 1  # data-parallel processes (torchrun ranks), one GPU each on a GPU worker


def effective_policy(settings: Settings, job_policy: dict[str, Any]) -> dict[str, Any]:
    """The policy overrides a job runs under: the deployment's, then the job's own."""
    return {**settings.forgetting_policy, **job_policy}


def _check_gpus(gpus: int, settings: Settings, fleet_gpus: int | None) -> None:
    """At most ``SFD_MAX_JOB_GPUS``, or what the largest live worker offers (``fleet_gpus``;
    None where no fleet runs the jobs) if that is more."""
    most = max(settings.max_job_gpus, fleet_gpus or 0)
    if 1 <= gpus <= most:
        return
    offered = f"SFD_MAX_JOB_GPUS is {settings.max_job_gpus}"
    if fleet_gpus is not None:
        offered = f"the largest live worker offers {fleet_gpus}; {offered}"
    raise Invalid(f"gpus must be between 1 and {most} ({offered})", code="invalid_gpus")


def resolved_steps(request: JobRequest, model: BaseModelRecord, settings: Settings) -> int:
    """The steps the job runs: the request's, or else its model's default (at most
    ``SFD_MAX_STEPS``)."""
    if request.steps is not None:
        return request.steps
    return min(settings.max_steps, base_models.default_steps(model))


def validate(
    request: JobRequest,
    model: BaseModelRecord,
    settings: Settings,
    fleet_gpus: int | None = None,
) -> None:
    """Raise :class:`Invalid` (with a precise ``code``) for anything the engine would refuse.
    ``fleet_gpus``: the most GPUs a live worker advertises (None: jobs run without workers)."""
    steps = resolved_steps(request, model, settings)
    if not 1 <= steps <= settings.max_steps:
        raise Invalid(f"steps must be between 1 and {settings.max_steps}", code="invalid_steps")
    _check_gpus(request.gpus, settings, fleet_gpus)
    try:
        config = SFDConfig.from_overrides(request.hyperparameters, steps=steps, shards=request.gpus)
    except ConfigError as exc:
        raise Invalid(str(exc), code="invalid_hyperparameters") from None
    if config.shards % request.gpus:
        raise Invalid(
            f"shards must be a multiple of gpus ({request.gpus})", code="invalid_hyperparameters"
        )
    if config.batch_size > settings.max_batch_size:
        raise Invalid(
            f"batch_size must be at most {settings.max_batch_size}", code="invalid_hyperparameters"
        )
    if request.probes is not None and request.probes not in PROBE_CHOICES:
        raise Invalid(f"probes must be one of {', '.join(PROBE_CHOICES)}", code="invalid_probes")
    try:
        ForgettingPolicy.from_overrides(effective_policy(settings, request.policy))
    except PolicyError as exc:
        raise Invalid(str(exc), code="invalid_policy") from None
    try:
        spec = ForgetSpec.create(request.unsafe, request.surrogate, request.surrogate_mode)  # type: ignore[arg-type]
        if model.kind == "class":
            if request.options:
                raise ForgetSpecError("options (prompts, templates) apply to text-to-image models")
            plan_for_classes(spec, model.class_names or [])
        else:  # a text model's own prompts (class_names), as the engine's plan uses them
            options = dict(request.options)
            clean_prompts(options.pop("paraphrases", None), "paraphrases")  # probes only
            build_prompt_table(spec, model_prompts=model.class_names, **options)
    except ForgetSpecError as exc:
        raise Invalid(str(exc), code="invalid_forget_spec") from None
