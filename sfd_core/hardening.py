"""Hardened SFD: adversarial training against the conditioning attack, data-free.

A small pool of free conditioning vectors (class-embedding rows, or prompt embeddings) plays the
attacker: each iteration every vector takes ``harden_attack_steps`` Adam steps towards
conditions under which the *teacher's own* diffusion classifier sees the forgotten concept in
the generator's output (unsafe vs null condition, from the teacher's denoising errors), so
neither data nor the evaluator is needed. The generator then takes a repel term,
``-log(1 - p_teacher(concept | G(z, v)))``, on a batch drawn from the pool. Every
``harden_restart_every`` iterations the vector that found the least restarts from the next
start point (the unsafe row, the mean and null rows, the surrogate, a random point; jittered),
so the pool keeps exploring. The pool plays a round in every SFD step and in every
``harden_warmup_every``-th warm-start step (:func:`hardening_round`), where the repel term joins
the regression.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.functional import softplus

from .conditions import ForgetPlan
from .config import SFDConfig
from .denoisers import Denoiser, expand_sigma

SIGMA_RANGE = (0.3, 2.0)  # noise levels at which the teacher's classifier reads the concept


def hardening_round(step: int, config: SFDConfig) -> int | None:
    """The adversarial pool's round at ``step`` of a hardened run, or None if the pool sits the
    step out: every SFD step is a round, and every ``harden_warmup_every``-th warm-start step
    (a function of the step alone, so a resumed run needs no state)."""
    every = config.harden_warmup_every
    warm_rounds = -(-config.warmup_steps // every) if every else 0
    if step >= config.warmup_steps:
        return warm_rounds + step - config.warmup_steps
    if every and step % every == 0:
        return step // every
    return None


class TeacherConceptScore:
    """Log-odds that the teacher sees ``concept`` rather than ``contrast`` in clean images.

    A two-way diffusion classifier: half the difference of the teacher's weighted denoising
    errors under the two conditions (the ELBO difference), one shared noise draw per image at a
    log-uniform noise level in :data:`SIGMA_RANGE`. Differentiable in the images.
    """

    def __init__(self, teacher: Denoiser, contrast: Tensor) -> None:
        self.teacher = teacher
        self.contrast = contrast

    def log_odds(self, images: Tensor, concept: Tensor, sigma: Tensor, noise: Tensor) -> Tensor:
        n = len(images)
        s = expand_sigma(sigma, images)
        noisy = images + s * noise
        err_concept = (self.teacher(noisy, sigma, concept) - images) ** 2
        contrast = self.contrast.expand(n, *self.contrast.shape[1:])
        err_contrast = (self.teacher(noisy, sigma, contrast) - images) ** 2
        return 0.5 * ((err_contrast - err_concept) / s**2).flatten(1).sum(1)


class AdversarialPool(nn.Module):
    """The attacker's conditioning vectors (one parameter, so one Adam and one checkpoint)."""

    def __init__(self, vectors: Tensor, targets: Tensor) -> None:
        super().__init__()
        self.vectors = nn.Parameter(vectors.clone())
        self.register_buffer("targets", targets.clone())  # the forget id each vector chases


class Hardener:
    """Keeps the adversarial pool and gives the generator its repel loss."""

    def __init__(
        self,
        teacher: Denoiser,
        generator: Denoiser,
        plan: ForgetPlan,
        config: SFDConfig,
        rng: torch.Generator,
        randn: Callable[[int], Tensor],
        generate: Callable[[Denoiser, Tensor, Tensor], Tensor],
    ) -> None:
        """``randn(n)`` draws sample-shaped noise on the device from ``rng``; ``generate`` is
        the one-step map ``(generator, noise, cond) -> images``."""
        self.config, self.rng, self.randn, self.generate = config, rng, randn, generate
        device = next(generator.parameters()).device
        table = generator.condition_table().detach().float().cpu()
        self.rows = [i for i in range(len(table)) if i != plan.null_id]
        self.mean, self.spread = table[self.rows].mean(0), table[self.rows].std(0)
        forget_ids = [int(i) for i in plan.forget_ids]
        starts = [table[i] for i in forget_ids] + [self.mean]
        if plan.null_id is not None:
            starts.append(table[plan.null_id])
        starts += [table[int(s[0])] for s in plan.surrogate_ids]
        self.starts = starts
        n = config.harden_pool
        vectors = torch.stack([self._start(i) for i in range(n)])
        targets = torch.tensor([forget_ids[i % len(forget_ids)] for i in range(n)])
        self.pool = AdversarialPool(vectors, targets).to(device)
        self.optimizer = torch.optim.Adam(self.pool.parameters(), lr=config.harden_attack_lr)
        contrast_id = plan.null_id if plan.null_id is not None else int(plan.surrogate_ids[0][0])
        self.score = TeacherConceptScore(teacher, torch.tensor([contrast_id], device=device))
        self.found = torch.zeros(n)  # mean log-odds each vector reached at its last step

    def _start(self, index: int) -> Tensor:
        """Start ``index`` in turn: each named start (unsafe rows, mean, null, surrogates),
        jittered after its first use, then a random point with the rows' spread."""
        k = index % (len(self.starts) + 1)
        noise = self.spread * torch.randn(self.spread.shape, generator=self.rng)
        if k == len(self.starts):
            return self.mean + noise
        return self.starts[k] + (0.1 * noise if index >= len(self.starts) else 0)

    def _odds(self, generator: Denoiser, cond: Tensor, targets: Tensor) -> Tensor:
        """The teacher's log-odds of the concept in ``G(z, cond)`` for fresh noise."""
        n = len(cond)
        images = self.generate(generator, self.randn(n), cond)
        lo, hi = math.log(SIGMA_RANGE[0]), math.log(SIGMA_RANGE[1])
        sigma = (lo + (hi - lo) * torch.rand(n, generator=self.rng)).exp().to(images.device)
        return self.score.log_odds(images, targets, sigma, self.randn(n))

    def attack_step(self, generator: Denoiser) -> None:
        """One Adam step of every pool vector against the current generator (frozen here)."""
        per = self.config.harden_attack_batch
        index = torch.arange(len(self.pool.vectors)).repeat_interleave(per)
        odds = self._odds(generator, self.pool.vectors[index], self.pool.targets[index])
        loss = softplus(-odds).sum() / per
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nan_to_num_(self.pool.vectors.grad, nan=0.0, posinf=0.0, neginf=0.0)
        self.optimizer.step()
        self.found = odds.detach().float().cpu().view(-1, per).mean(1)

    def restart_weakest(self, step: int) -> None:
        """Move the vector that found the least to the next start point (and reset its Adam)."""
        weakest = int(self.found.argmin())
        restart = self._start(len(self.pool.vectors) + step // self.config.harden_restart_every)
        with torch.no_grad():
            self.pool.vectors[weakest] = restart.to(self.pool.vectors.device)
        for slot in self.optimizer.state.get(self.pool.vectors, {}).values():
            if torch.is_tensor(slot) and slot.shape == self.pool.vectors.shape:
                slot[weakest] = 0

    def weighted_repel(self, generator: Denoiser) -> tuple[Tensor, float]:
        """``harden_weight`` x the repel loss (NaN-safe) for the generator's loss, and the
        loss itself for the log."""
        repel = self.repel_loss(generator)
        return self.config.harden_weight * torch.nan_to_num(repel), repel.item()

    def repel_loss(self, generator: Denoiser) -> Tensor:
        """``-log(1 - p_teacher(concept | G(z, v)))`` over a batch of pool vectors."""
        n = self.config.harden_batch
        pick = torch.randint(len(self.pool.vectors), (n,), generator=self.rng)
        cond = self.pool.vectors[pick].detach()
        return softplus(self._odds(generator, cond, self.pool.targets[pick])).mean()
