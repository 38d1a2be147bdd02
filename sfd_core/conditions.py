"""What to forget: a user's forget spec (names) and the trainer's forget plan (condition ids).

Every teacher's conditions are integer ids: class labels for class-conditional models, indices
into a table of cached prompt embeddings for text-to-image models. The trainer only sees ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

SurrogateMode = Literal["fixed", "random"]


class ForgetSpecError(ValueError):
    """A forget spec that does not fit the model (unknown class, surrogate == unsafe, ...)."""


@dataclass(frozen=True)
class ForgetSpec:
    """Unsafe concepts, each mapped to a safe surrogate.

    ``surrogates`` holds one name per unsafe concept, or a single name for all of them; it is
    empty in ``random`` mode, where each sample draws a uniformly random retained class.
    """

    unsafe: tuple[str, ...]
    surrogates: tuple[str, ...] = ()
    mode: SurrogateMode = "fixed"

    @classmethod
    def create(
        cls,
        unsafe: str | Sequence[str],
        surrogate: str | Sequence[str] | None = None,
        mode: SurrogateMode = "fixed",
    ) -> ForgetSpec:
        unsafe_t = (unsafe,) if isinstance(unsafe, str) else tuple(unsafe)
        if surrogate is None:
            surrogate_t: tuple[str, ...] = ()
        else:
            surrogate_t = (surrogate,) if isinstance(surrogate, str) else tuple(surrogate)
        spec = cls(tuple(str(u) for u in unsafe_t), tuple(str(s) for s in surrogate_t), mode)
        spec.check()
        return spec

    def check(self) -> None:
        """Checks that need no model: shapes of the lists and the mode."""
        if not self.unsafe:
            raise ForgetSpecError("at least one unsafe concept is required")
        if len(set(self.unsafe)) != len(self.unsafe):
            raise ForgetSpecError("unsafe concepts are listed twice")
        if self.mode not in ("fixed", "random"):
            raise ForgetSpecError(f"unknown surrogate mode {self.mode!r} (fixed or random)")
        if self.mode == "fixed":
            if not self.surrogates:
                raise ForgetSpecError("surrogate mode 'fixed' needs a safe surrogate")
            if len(self.surrogates) not in (1, len(self.unsafe)):
                raise ForgetSpecError("give one surrogate, or one per unsafe concept")
            for unsafe, surrogate in self.pairs():
                if unsafe == surrogate:
                    raise ForgetSpecError(f"the surrogate {surrogate!r} is the unsafe concept")
                if surrogate in self.unsafe:
                    raise ForgetSpecError(f"the surrogate {surrogate!r} is itself to be forgotten")
        elif self.surrogates:
            raise ForgetSpecError("surrogate mode 'random' takes no surrogate")

    def pairs(self) -> list[tuple[str, str | None]]:
        """``(unsafe, surrogate)`` pairs; the surrogate is None in random mode."""
        if self.mode == "random":
            return [(u, None) for u in self.unsafe]
        surrogates = (
            self.surrogates * len(self.unsafe) if len(self.surrogates) == 1 else self.surrogates
        )
        return list(zip(self.unsafe, surrogates, strict=True))

    def to_dict(self) -> dict:
        return {"unsafe": list(self.unsafe), "surrogates": list(self.surrogates), "mode": self.mode}

    @classmethod
    def from_dict(cls, data: dict) -> ForgetSpec:
        return cls.create(data["unsafe"], data.get("surrogates") or None, data.get("mode", "fixed"))


@dataclass
class ForgetPlan:
    """The trainer's view of a forget spec: condition ids to retain, forget, and swap in."""

    retain_ids: Tensor
    forget_ids: Tensor
    surrogate_ids: list[Tensor]  # candidates per forget id: one (fixed) or all retained (random)
    null_id: int | None = None  # the unconditional condition, if the teacher has one
    names: dict[int, str] = field(default_factory=dict)

    def sample_retain(self, n: int, generator: torch.Generator) -> Tensor:
        pick = torch.randint(len(self.retain_ids), (n,), generator=generator, device="cpu")
        return self.retain_ids[pick]

    def sample_forget(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``n`` unsafe ids and, for each, a surrogate id drawn from its candidates."""
        pick = torch.randint(len(self.forget_ids), (n,), generator=generator, device="cpu")
        unsafe = self.forget_ids[pick]
        draws = torch.rand(n, generator=generator, device="cpu")
        surrogate = torch.empty_like(unsafe)
        for i, (k, u) in enumerate(zip(pick.tolist(), draws.tolist(), strict=True)):
            candidates = self.surrogate_ids[k]
            surrogate[i] = candidates[min(int(u * len(candidates)), len(candidates) - 1)]
        return unsafe, surrogate


def plan_for_classes(
    spec: ForgetSpec, class_names: Sequence[str], null_id: int | None = None
) -> ForgetPlan:
    """Resolve a spec against a class-conditional model's class names."""
    index = {name: i for i, name in enumerate(class_names)}
    known = ", ".join(class_names)
    for name in (*spec.unsafe, *spec.surrogates):
        if name not in index:
            raise ForgetSpecError(f"unknown class {name!r}; this model's classes are: {known}")
    forget = [index[u] for u in spec.unsafe]
    retain = [i for i in range(len(class_names)) if i not in forget]
    if not retain:
        raise ForgetSpecError("nothing would be retained: every class is to be forgotten")
    if spec.mode == "random":
        surrogate_ids = [torch.tensor(retain) for _ in forget]
    else:
        surrogate_ids = [torch.tensor([index[s]]) for _, s in spec.pairs()]
    return ForgetPlan(
        retain_ids=torch.tensor(retain),
        forget_ids=torch.tensor(forget),
        surrogate_ids=surrogate_ids,
        null_id=null_id,
        names=dict(enumerate(class_names)),
    )
