"""The SFD training loop: one readable loop with progress, stop and checkpoint hooks.

Three networks start from the teacher: the frozen teacher ``D_phi``, the fake score ``D_psi``
and the one-step generator ``G_theta``. Each iteration takes one fake-score step and one
generator step; on forget conditions the teacher is asked about the surrogate instead.
All randomness comes from CPU ``torch.Generator`` streams, one per shard of the batch, so runs
are reproducible and resumable; under torch.distributed each rank draws its own shards and the
gradients are averaged over the ranks (:mod:`sfd_core.distributed`).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import Tensor

from . import checkpoint, distributed
from .conditions import ForgetPlan
from .config import SFDConfig
from .denoisers import Denoiser
from .distributed import World
from .hardening import Hardener, hardening_round
from .losses import FakeScoreLoss, GeneratorLoss, KarrasSigmas, LogNormalSigmas
from .progress import ProgressCallback, ProgressEvent, StopCheck
from .warmup import BetweenChunks, RegressionLoss, TeacherPairs, make_pairs

Evaluate = Callable[[Denoiser], dict]


def one_step_generate(
    generator: Denoiser, noise: Tensor, cond: Tensor, sigma_init: float
) -> Tensor:
    """``x_g = D_theta(sigma_init * z; sigma_init, c)``: one network evaluation."""
    sigma = torch.full((noise.shape[0],), sigma_init, device=noise.device, dtype=noise.dtype)
    return generator(noise * sigma_init, sigma, cond)


def cosine_factor(progress: float, final: float) -> float:
    """A cosine from 1 at ``progress`` 0 to ``final`` at ``progress`` 1."""
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))


def _masked_mean(loss: Tensor, finite: Tensor) -> Tensor:
    """Batch mean over the finite samples (NaN samples dropped); zero if none is finite."""
    if not finite.any():
        return loss.new_zeros(())
    return loss[finite].mean()


def _shard_mean(loss: Tensor, finite: Tensor, shards: int) -> Tensor:
    """Mean over the shards of each shard's masked batch mean (the batch is shard-major)."""
    means = [
        _masked_mean(part, ok)
        for part, ok in zip(loss.chunk(shards), finite.chunk(shards), strict=True)
    ]
    return torch.stack(means).mean()


class SFDTrainer:
    """Score Forgetting Distillation of ``teacher`` into a one-step generator."""

    def __init__(
        self,
        teacher: Denoiser,
        plan: ForgetPlan,
        config: SFDConfig,
        sample_shape: tuple[int, ...],
        *,
        seed: int = 0,
        device: str | torch.device = "cpu",
        world: World | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.world = world or World()
        self.config = config
        self.plan = plan
        self.sample_shape = tuple(sample_shape)
        self.teacher = teacher.to(self.device).requires_grad_(False).eval()
        self.fake_score = teacher.trainable_copy()
        self.generator = teacher.generator_copy()
        # Only rank 0 evaluates and saves, so only it keeps the EMA copy.
        self.ema: Denoiser | None = (
            copy.deepcopy(self.generator).requires_grad_(False).eval()
            if self.world.is_main
            else None
        )
        self.opt_fake = torch.optim.Adam(
            self.fake_score.parameters(),
            lr=config.lr_fake_score,
            betas=self._betas(config.adam_beta1),
            eps=config.adam_eps,
        )
        warm = config.warmup_steps > 0
        self.opt_generator = torch.optim.Adam(
            self.generator.parameters(),
            lr=config.warmup_lr if warm else config.lr_generator,
            betas=self._betas(config.warmup_adam_beta1 if warm else config.adam_beta1),
            eps=config.adam_eps,
        )
        self.fake_loss = FakeScoreLoss(config.sigma_data)
        self.generator_loss = GeneratorLoss(config.alpha)
        self.fake_sigmas = LogNormalSigmas(config.p_mean, config.p_std)
        self.generator_sigmas = KarrasSigmas(
            config.sigma_min, config.sigma_max, config.rho, config.tmax
        )
        self.shards = self.world.shards(config.shards)
        self.rngs = [
            torch.Generator().manual_seed(distributed.shard_seed(seed, s)) for s in self.shards
        ]
        self.batch = config.batch_size // config.shards * len(self.shards)  # this rank's
        self.seed = seed
        self.step = 0
        self.regression = RegressionLoss(self._one_step)
        self._pairs: TeacherPairs | None = None
        self.hardener = (
            Hardener(
                self.teacher, self.generator, plan, config, self.rng, self._randn, self._one_step
            )
            if config.harden
            else None
        )

    def _betas(self, beta1: float) -> tuple[float, float]:
        return (float(beta1), float(self.config.adam_beta2))

    @property
    def rng(self) -> torch.Generator:
        """The first local shard's stream (the only one of a one-shard run)."""
        return self.rngs[0]

    # -- sampling helpers -------------------------------------------------------------------
    def _draw(self, n: int, draw: Callable[[int, torch.Generator], Tensor]) -> Tensor:
        """``n`` draws split evenly over the local shards, each from its own stream."""
        per_shard, rest = divmod(n, len(self.rngs))
        assert rest == 0, f"{n} draws do not split over {len(self.rngs)} shards"
        return torch.cat([draw(per_shard, rng) for rng in self.rngs])

    def _randn(self, n: int) -> Tensor:
        shape = self.sample_shape
        return self._draw(n, lambda k, g: torch.randn((k, *shape), generator=g)).to(self.device)

    def _sample_forget(self, n: int) -> tuple[Tensor, Tensor]:
        per_shard = n // len(self.rngs)
        pairs = [self.plan.sample_forget(per_shard, rng) for rng in self.rngs]
        unsafe, surrogate = (torch.cat(parts) for parts in zip(*pairs, strict=True))
        return unsafe.to(self.device), surrogate.to(self.device)

    def _autocast(self):
        if self.config.bf16 and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def _generate(self, generator: Denoiser, cond: Tensor) -> Tensor:
        return one_step_generate(generator, self._randn(len(cond)), cond, self.config.sigma_init)

    def _one_step(self, generator: Denoiser, noise: Tensor, cond: Tensor) -> Tensor:
        return one_step_generate(generator, noise, cond, self.config.sigma_init)

    def _drop_conditions(self, cond: Tensor) -> Tensor:
        """Swap conditions for the null one with probability ``cond_dropout`` (CFG training)."""
        if self.config.cond_dropout <= 0 or self.plan.null_id is None:
            return cond
        draws = self._draw(len(cond), lambda k, g: torch.rand(k, generator=g))
        drop = draws < self.config.cond_dropout
        return torch.where(drop.to(cond.device), torch.full_like(cond, self.plan.null_id), cond)

    def _apply(
        self, optimizer: torch.optim.Optimizer, module: torch.nn.Module, loss: Tensor
    ) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.world.distributed:
            distributed.average_gradients(module.parameters(), self.world)
        for p in module.parameters():
            if p.grad is not None:
                torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
        torch.nn.utils.clip_grad_value_(module.parameters(), self.config.grad_clip)
        optimizer.step()

    @property
    def pairs(self) -> TeacherPairs:
        """The teacher's (noise, sample) pairs for the warm start, drawn on first use."""
        if self._pairs is None:
            self._pairs = self._make_pairs()
        if self._pairs is None:  # only a stop between the teacher's batches leaves none
            raise RuntimeError("the warm-start pairs were not drawn")
        return self._pairs

    def _make_pairs(self, between_chunks: BetweenChunks | None = None) -> TeacherPairs | None:
        cfg = self.config
        # Never more pairs than the run can draw: a batch a step, two a warm-up step.
        draws = cfg.batch_size * (cfg.steps + min(cfg.warmup_steps, cfg.steps))
        count = max(2, min(cfg.warmup_pairs, draws))
        return make_pairs(
            self.teacher,
            self.plan,
            count,
            self.sample_shape,
            seed=self.seed,
            device=self.device,
            forget_share=cfg.warmup_forget_share,
            between_chunks=between_chunks,
        )

    def _prepare_pairs(
        self,
        should_stop: StopCheck | None,
        on_progress: ProgressCallback | None,
        started: float,
    ) -> bool:
        """Draw the pairs before the step that first needs them, reporting progress and polling
        ``should_stop`` between the teacher's batches (a cancel need not wait for them all);
        False if stopped."""
        cfg = self.config
        needed = cfg.regression_weight > 0 or self.step < cfg.warmup_steps
        if self._pairs is not None or not needed:
            return True

        def between_chunks(made: int, count: int) -> bool:
            if self.world.is_main and on_progress is not None:
                on_progress(
                    ProgressEvent(
                        phase="warmstart",
                        step=self.step,
                        total=cfg.steps,
                        elapsed_seconds=time.monotonic() - started,
                        message=f"the teacher has drawn {made} of {count} warm-start samples",
                    )
                )
            stop = should_stop is not None and should_stop()
            return distributed.any_rank(stop, self.world, self.device)

        self._pairs = self._make_pairs(between_chunks)
        return self._pairs is not None

    def reseed_pairs(self, seed: int) -> None:
        """Rebuild the warm start's pairs from ``seed`` when next needed (checkpoint resume)."""
        if seed != self.seed:
            self.seed, self._pairs = seed, None

    def _regression_loss(self, n: int) -> Tensor:
        count = len(self.pairs)
        index = self._draw(n, lambda k, g: torch.randint(count, (k,), generator=g))
        return self.regression(self.generator, self.pairs, index.to(self.device)).mean()

    # -- one iteration ------------------------------------------------------------------------
    def _warmup_step(self, repel: bool) -> dict[str, float]:
        """Regress the generator onto the teacher's pairs (no fake-score step yet: the fake
        score starts as the teacher, which is what a warmed-up generator draws); with
        ``repel``, hardening's repel term joins the regression."""
        self.generator.requires_grad_(True)
        with self._autocast():
            loss = self._regression_loss(2 * self.batch)
            losses = {"warmup_regression": loss.item()}
            if repel:
                assert self.hardener is not None
                term, losses["warmup_repel"] = self.hardener.weighted_repel(self.generator)
                loss = loss + term
        self._apply(self.opt_generator, self.generator, loss.float())
        self._update_ema()
        return losses

    def _fake_score_step(self) -> dict[str, float]:
        cfg, n = self.config, self.batch
        self.generator.requires_grad_(False)
        self.fake_score.requires_grad_(True)
        retain = self._draw(n, self.plan.sample_retain).to(self.device)
        unsafe, _ = self._sample_forget(n)
        with self._autocast():
            with torch.no_grad():
                x_retain = self._generate(self.generator, retain)
                x_forget = self._generate(self.generator, unsafe)
            retain_cond = self._drop_conditions(retain)
            loss_r, ok_r = self.fake_loss(
                self.fake_score,
                x_retain,
                retain_cond,
                self._draw(n, self.fake_sigmas).to(self.device),
                self._randn(n),
            )
            loss_f, ok_f = self.fake_loss(
                self.fake_score,
                x_forget,
                unsafe,
                self._draw(n, self.fake_sigmas).to(self.device),
                self._randn(n),
            )
            shards = len(self.rngs)
            retain_loss = _shard_mean(loss_r, ok_r, shards)
            forget_loss = _shard_mean(loss_f, ok_f, shards)
            total = cfg.retain_weight * retain_loss + cfg.forget_weight * forget_loss
        self._apply(self.opt_fake, self.fake_score, total.float())
        return {"fake_retain": retain_loss.item(), "fake_forget": forget_loss.item()}

    def _generator_step(self) -> dict[str, float]:
        cfg, n = self.config, self.batch
        self.fake_score.requires_grad_(False)
        self.generator.requires_grad_(True)
        retain = self._draw(n, self.plan.sample_retain).to(self.device)
        unsafe, surrogate = self._sample_forget(n)
        with self._autocast():
            x_retain = self._generate(self.generator, retain)
            x_forget = self._generate(self.generator, unsafe)
            loss_r, ok_r = self.generator_loss(
                self.teacher,
                self.fake_score,
                x_retain,
                retain,
                retain,
                self._draw(n, self.generator_sigmas).to(self.device),
                self._randn(n),
            )
            # Forget: the teacher answers for the surrogate, the fake score for the unsafe id.
            loss_f, ok_f = self.generator_loss(
                self.teacher,
                self.fake_score,
                x_forget,
                surrogate,
                unsafe,
                self._draw(n, self.generator_sigmas).to(self.device),
                self._randn(n),
            )
            shards = len(self.rngs)
            retain_loss = _shard_mean(loss_r, ok_r, shards)
            forget_loss = _shard_mean(loss_f, ok_f, shards)
            total = cfg.retain_weight * retain_loss + cfg.forget_weight * forget_loss
            losses = {"gen_retain": retain_loss.item(), "gen_forget": forget_loss.item()}
            if cfg.regression_weight > 0:
                regression = self._regression_loss(n)
                total = total + cfg.regression_weight * torch.nan_to_num(regression)
                losses["gen_regression"] = regression.item()
            if self.hardener is not None:
                term, losses["gen_repel"] = self.hardener.weighted_repel(self.generator)
                total = total + term
        self._apply(self.opt_generator, self.generator, total.float())
        self._update_ema()
        losses["nan_dropped"] = int((~ok_r).sum() + (~ok_f).sum())
        return losses

    def _harden_step(self, round_: int) -> None:
        """The pool's attack step against the current generator (hardened SFD only)."""
        assert self.hardener is not None
        self.generator.requires_grad_(False)
        with self._autocast():
            for _ in range(self.config.harden_attack_steps):
                self.hardener.attack_step(self.generator)
        if (round_ + 1) % self.config.harden_restart_every == 0:
            self.hardener.restart_weakest(round_)

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema is None:
            return
        # Warm-up: early on the EMA follows the generator closely, so short runs are not judged
        # on an average dominated by the untrained start.
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        for ema_p, p in zip(self.ema.parameters(), self.generator.parameters(), strict=True):
            ema_p.lerp_(p.detach(), 1.0 - decay)
        for ema_b, b in zip(self.ema.buffers(), self.generator.buffers(), strict=True):
            ema_b.copy_(b)

    def train_step(self) -> dict[str, float]:
        """One iteration: during the warm start a regression step (hardened: with the pool's
        round and the repel term every ``harden_warmup_every``-th step); then SFD's fake-score
        step(s), the pool's round when hardened, and a generator step (and its EMA)."""
        self.fake_score.train()
        self.generator.train()
        round_ = None if self.hardener is None else hardening_round(self.step, self.config)
        if self.step < self.config.warmup_steps:
            if round_ is not None:
                self._harden_step(round_)
            losses = self._warmup_step(repel=round_ is not None)
            self.step += 1
            return losses
        if self.step == self.config.warmup_steps > 0:
            # Adam's moments of the regression would damp SFD's first steps: start afresh, at
            # SFD's rate and without the regression's momentum.
            self.opt_generator.state.clear()
            for group in self.opt_generator.param_groups:
                group["lr"] = self.config.lr_generator
                group["betas"] = self._betas(self.config.adam_beta1)
        self._schedule_learning_rates()
        for _ in range(self.config.fake_score_steps):
            losses = self._fake_score_step()
        if round_ is not None:
            self._harden_step(round_)
        losses |= self._generator_step()
        self.step += 1
        return self._over_ranks(losses)

    def _schedule_learning_rates(self) -> None:
        """Set both learning rates for this SFD step: a cosine from 1x to ``lr_final`` x over
        the steps after the warm-up (a function of the step alone, so a resume needs no state)."""
        cfg = self.config
        if cfg.lr_final == 1.0:
            return
        span = max(1, cfg.steps - cfg.warmup_steps - 1)
        progress = min(1.0, (self.step - cfg.warmup_steps) / span)
        factor = cosine_factor(progress, cfg.lr_final)
        for optimizer, lr in (
            (self.opt_fake, cfg.lr_fake_score),
            (self.opt_generator, cfg.lr_generator),
        ):
            for group in optimizer.param_groups:
                group["lr"] = lr * factor

    def _over_ranks(self, losses: dict[str, float]) -> dict[str, float]:
        """The losses of the whole batch: means over the ranks, ``nan_dropped`` summed."""
        if not self.world.distributed:
            return losses
        sums = distributed.sum_over_ranks(list(losses.values()), self.world, self.device)
        return {
            name: int(total) if name == "nan_dropped" else total / self.world.size
            for name, total in zip(losses, sums, strict=True)
        }

    # -- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self, path: Path) -> Path:
        """Write the full state to ``path`` (rank 0 writes; every rank must call it)."""
        return checkpoint.save(self, path)

    def load_checkpoint(self, path: Path) -> None:
        checkpoint.load(self, path)

    # -- the loop -----------------------------------------------------------------------------
    def run(
        self,
        *,
        on_progress: ProgressCallback | None = None,
        should_stop: StopCheck | None = None,
        evaluate: Evaluate | None = None,
        eval_every: int = 0,
        checkpoint_path: Path | None = None,
        checkpoint_every: int = 0,
        on_checkpoint: Callable[[Path], None] | None = None,
    ) -> bool:
        """Train until ``config.steps``; returns False if ``should_stop`` ended it early.

        ``should_stop`` is polled between iterations (cooperative cancellation; under
        torch.distributed a stop on any rank stops every rank at the same step). Every
        ``checkpoint_every`` steps the full state goes to ``checkpoint_path`` and
        ``on_checkpoint`` is told (e.g. to upload it); every ``eval_every`` steps ``evaluate``
        scores the EMA generator and its metrics ride on the progress event. The hooks other
        than ``should_stop`` are called on rank 0 only.
        """
        total = self.config.steps
        start_step, started = self.step, time.monotonic()
        main = self.world.is_main
        while self.step < total:
            stop = should_stop is not None and should_stop()
            if distributed.any_rank(stop, self.world, self.device):
                return False
            if not self._prepare_pairs(should_stop, on_progress, started):
                return False
            losses = self.train_step()
            metrics = None
            if main and evaluate is not None and eval_every and self.step % eval_every == 0:
                assert self.ema is not None
                metrics = evaluate(self.ema)
            if (
                checkpoint_path is not None
                and checkpoint_every
                and self.step % checkpoint_every == 0
            ):
                self.save_checkpoint(checkpoint_path)
                if main and on_checkpoint is not None:
                    on_checkpoint(checkpoint_path)
            if main and on_progress is not None:
                elapsed = time.monotonic() - started
                rate = elapsed / (self.step - start_step)
                on_progress(
                    ProgressEvent(
                        phase="train",
                        step=self.step,
                        total=total,
                        elapsed_seconds=elapsed,
                        eta_seconds=rate * (total - self.step),
                        losses=losses,
                        metrics=metrics,
                    )
                )
        return True
