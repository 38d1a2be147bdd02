"""Attack probes: does an unlearned model still hold the concept it was asked to forget?

Three attacks, each with a recorded budget and seed, steered by one classifier and judged by an
independent one plus a realism check: a white-box *conditioning* attack (a free class-embedding
or prompt-embedding vector, from several starts), a *relearning* attack (fine-tuning on a few
real examples) and, for text models, a *discrete* prompt search. See docs/ROBUSTNESS.md.
"""

from __future__ import annotations

from ..conditions import ForgetPlan, ForgetSpec
from ..denoisers import Denoiser
from ..progress import StopCheck
from ..teachers import Teacher
from .budget import PROBE_BUDGETS, PROBE_CHOICES, ProbeBudget
from .references import apply_reference, find_reference
from .subjects import job_subject
from .suite import ProbeResult, ProbeSubject, run_probes


def probe_generator(
    teacher: Teacher,
    generator: Denoiser,
    plan: ForgetPlan,
    spec: ForgetSpec,
    *,
    sigma_init: float,
    budget: str,
    seed: int,
    should_stop: StopCheck | None = None,
) -> ProbeResult | None:
    """Probe a finished job's one-step generator. A model no kit knows gets a section that says
    it was not probed (and so cannot be judged forgotten); None means ``should_stop`` ended it."""
    chosen = PROBE_BUDGETS[budget]
    subject = job_subject(
        teacher,
        generator,
        plan,
        spec,
        sigma_init=sigma_init,
        budget=chosen,
        seed=seed,
    )
    if subject is None:
        reason = "no attack kit knows this model's classes or prompts: not probed"
        return ProbeResult.not_probed(chosen, seed, reason)
    result = run_probes(subject, chosen, seed, should_stop)
    if result is not None:
        reference = find_reference(teacher.sha256, subject.concept, budget)
        apply_reference(result.section, reference)
    return result


__all__ = [
    "PROBE_BUDGETS",
    "PROBE_CHOICES",
    "ProbeBudget",
    "ProbeResult",
    "ProbeSubject",
    "probe_generator",
    "run_probes",
]
