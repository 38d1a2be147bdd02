"""SFD hyperparameters: the authors' settings as defaults, tuned where this CPU needs it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

# How a type error names the expected value to a user (not Python's type names).
KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number"}


class ConfigError(ValueError):
    """A hyperparameter that is unknown or out of bounds."""


@dataclass(frozen=True)
class SFDConfig:
    """Hyperparameters of one SFD run (see ../shared/SFD.md for the published ones).

    The defaults are the ones measured on the bundled digits teacher: the authors' CIFAR-10
    settings use lr 1e-5, batch 128, 50k iterations and EMA 0.9999, which is days on a CPU.
    """

    steps: int = 400
    batch_size: int = 32  # the global batch, split evenly over the shards
    # RNG streams the batch is drawn from, one per data-parallel rank or more
    # (sfd_core.distributed): the same shards give the same run on any number of ranks.
    shards: int = 1
    alpha: float = 1.2
    sigma_init: float = 2.5
    retain_weight: float = 1.0
    forget_weight: float = 1.0
    lr_generator: float = 3e-4
    lr_fake_score: float = 3e-4
    # Both learning rates follow a cosine from 1x at the first SFD step (after the warm-up) to
    # lr_final x at the last; 1 keeps them constant (SiD's schedule).
    lr_final: float = 1.0
    # Fake-score steps per generator step (DMD2's two time-scale rule; SiD takes one).
    fake_score_steps: int = 1
    adam_beta1: float = 0.0
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    grad_clip: float = 1.0
    ema_decay: float = 0.995  # upper bound; warmed up as (1 + step) / (10 + step)
    # Generator step: SiD's noise levels (Karras schedule, u ~ U[0, tmax/1000]).
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    tmax: int = 800
    # Fake-score step: EDM's log-normal noise levels with EDM's loss weight.
    p_mean: float = -1.2
    p_std: float = 1.2
    sigma_data: float = 0.5
    # Probability of swapping a retain condition for the null one in the fake-score step
    # (text-to-image classifier-free guidance); 0 for class-conditional teachers.
    cond_dropout: float = 0.0
    # Classifier-free guidance scale of the teacher and fake score (text-to-image; 1 = none).
    guidance_scale: float = 1.0
    # Recompute activations in the backward pass of the fake score and generator (big models).
    gradient_checkpointing: bool = False
    bf16: bool = False
    # Hardened SFD (sfd_core.hardening): adversarial conditioning vectors, repelled by the
    # teacher's own classifier. Off by default; see docs/ROBUSTNESS.md for its measured cost.
    harden: bool = False
    harden_pool: int = 16
    harden_attack_lr: float = 0.1
    harden_attack_steps: int = 3  # the pool's Adam steps per SFD iteration
    harden_attack_batch: int = 2
    harden_restart_every: int = 10
    harden_batch: int = 16
    harden_weight: float = 3.0
    # A hardened run hardens its warm start too: every harden_warmup_every-th warm-start step
    # also takes the pool's attack step and adds the repel term to the regression (0: only SFD
    # steps are hardened, which left digits attackable after a warm start; every 4th step held
    # 0 -> 1 but not 3 -> 8, every 2nd held both, docs/ROBUSTNESS.md).
    harden_warmup_every: int = 2
    # Warm start (sfd_core.warmup): the first warmup_steps regress the generator onto
    # warmup_pairs samples the teacher draws at the start (forget conditions: the surrogate's);
    # regression_weight keeps that regression in the generator's loss afterwards (DMD-style).
    # A run makes no more pairs than it can draw (batch_size * (steps + warmup_steps)).
    warmup_steps: int = 0
    warmup_pairs: int = 1024
    warmup_forget_share: float = 0.5  # of the pairs, those for forget conditions
    regression_weight: float = 1.0
    # The generator's optimiser in the warm start, SFD's own after it. A regression onto fixed
    # pairs gains from momentum (shapes: retained FD 15 against 40 after 300 steps); SFD's game
    # does not (digits: FD 4.0 against 2.7 with beta1 0.9 after the switch), so SFD's steps keep
    # adam_beta1. The rate is the warm start's own so a preset can run SFD slower (shapes).
    warmup_lr: float = 3e-4
    warmup_adam_beta1: float = 0.9

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{item.name} must be a finite number")
        checks = [
            (1 <= self.steps <= 200_000, "steps must be between 1 and 200000"),
            (1 <= self.batch_size <= 1024, "batch_size must be between 1 and 1024"),
            (1 <= self.shards <= 1024, "shards must be between 1 and 1024"),
            (self.batch_size % self.shards == 0, "batch_size must be a multiple of shards"),
            (self.shards == 1 or not self.harden, "hardened SFD runs on one shard (one process)"),
            (self.alpha > 0, "alpha must be positive"),
            (self.sigma_init > 0, "sigma_init must be positive"),
            (
                self.retain_weight >= 0 and self.forget_weight > 0,
                "weights must be >= 0 (forget > 0)",
            ),
            (
                all(0 < lr < 1 for lr in (self.lr_generator, self.lr_fake_score, self.warmup_lr)),
                "learning rates in (0, 1)",
            ),
            (
                all(0 <= b < 1 for b in (self.adam_beta1, self.adam_beta2, self.warmup_adam_beta1)),
                "Adam betas in [0, 1)",
            ),
            (self.grad_clip > 0, "grad_clip must be positive"),
            (0 <= self.ema_decay < 1, "ema_decay must be in [0, 1)"),
            (0 < self.sigma_min < self.sigma_max, "need 0 < sigma_min < sigma_max"),
            (0 < self.tmax <= 1000, "tmax must be in (0, 1000]"),
            (0 <= self.cond_dropout < 1, "cond_dropout must be in [0, 1)"),
            (1 <= self.guidance_scale <= 30, "guidance_scale must be in [1, 30]"),
            (self.alpha <= 100, "alpha must be at most 100"),
            (self.sigma_init <= 1000, "sigma_init must be at most 1000"),
            (
                self.retain_weight <= 1000 and self.forget_weight <= 1000,
                "weights must be at most 1000",
            ),
            (0 < self.adam_eps < 1, "adam_eps must be in (0, 1)"),
            (self.sigma_max <= 10_000, "sigma_max must be at most 10000"),
            (0 < self.rho <= 100, "rho must be in (0, 100]"),
            (-10 <= self.p_mean <= 10, "p_mean must be in [-10, 10]"),
            (0 < self.p_std <= 10, "p_std must be in (0, 10]"),
            (0 < self.sigma_data <= 100, "sigma_data must be in (0, 100]"),
            (1 <= self.harden_pool <= 256, "harden_pool must be between 1 and 256"),
            (0 < self.harden_attack_lr < 10, "harden_attack_lr must be in (0, 10)"),
            (1 <= self.harden_attack_steps <= 100, "harden_attack_steps must be in [1, 100]"),
            (1 <= self.harden_attack_batch <= 64, "harden_attack_batch must be in [1, 64]"),
            (1 <= self.harden_restart_every <= 10_000, "harden_restart_every in [1, 10000]"),
            (1 <= self.harden_batch <= 1024, "harden_batch must be between 1 and 1024"),
            (0 <= self.harden_weight <= 1000, "harden_weight must be in [0, 1000]"),
            (0 <= self.harden_warmup_every <= 10_000, "harden_warmup_every in [0, 10000]"),
            (0 <= self.warmup_steps <= self.steps, "warmup_steps must be in [0, steps]"),
            (2 <= self.warmup_pairs <= 100_000, "warmup_pairs must be in [2, 100000]"),
            (0 <= self.warmup_forget_share < 1, "warmup_forget_share must be in [0, 1)"),
            (0 <= self.regression_weight <= 1000, "regression_weight must be in [0, 1000]"),
            (0 <= self.lr_final <= 1, "lr_final must be in [0, 1]"),
            (1 <= self.fake_score_steps <= 10, "fake_score_steps must be between 1 and 10"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None = None, **defaults: Any) -> SFDConfig:
        """Defaults, then ``defaults`` (e.g. a model preset), then user ``overrides``."""
        merged = {**defaults, **(overrides or {})}
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(merged) - set(known))
        if unknown:
            raise ConfigError(f"unknown hyperparameter(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in merged.items():
            kind = type(getattr(cls, name))
            try:
                if kind is bool:
                    if not isinstance(value, bool):
                        raise TypeError
                    values[name] = value
                else:
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        raise TypeError
                    if kind is int and float(value) != int(value):
                        raise TypeError
                    values[name] = kind(value)
            except TypeError:
                raise ConfigError(f"hyperparameter {name} must be {KIND_WORDS[kind]}") from None
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
