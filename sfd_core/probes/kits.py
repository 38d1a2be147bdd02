"""Per-model attack kits: a classifier that steers an attack, and an independent judge.

Success must not be adversarial noise, so the model that steers (a CNN) is never the one that
judges: a sample counts only when a second, differently built classifier sees the concept AND the
sample sits near real examples *of the concept* in the evaluator's feature space (nearest
distance within the 99th percentile of the real examples' own leave-one-out distances).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from ..digits.data import load_digits_tensors
from ..evaluation.digits import DigitsEvaluator
from ..text import shapes
from ..text.prompts import mentions
from ..text.shapes_eval import MIN_AREA, ShapesEvaluator
from .shapes_classifier import load_shapes_classifier

REALISM_QUANTILE = 0.99


class RealismCheck:
    """Is a sample as close to a real example of the concept as real examples are to each
    other? Threshold: the 99th percentile of the real examples' leave-one-out nearest
    distance, in some feature space."""

    def __init__(self, reference: Tensor) -> None:
        self.reference = reference.float()
        distances = torch.cdist(self.reference, self.reference)
        distances.fill_diagonal_(float("inf"))
        self.threshold = float(torch.quantile(distances.min(dim=1).values, REALISM_QUANTILE))

    def __call__(self, feats: Tensor) -> Tensor:
        return torch.cdist(feats.float(), self.reference).min(dim=1).values <= self.threshold


class AttackKit:
    """Steers attacks towards a concept and judges whether samples show it."""

    steer_name: str
    judge_name: str

    def steer_loss(self, images: Tensor) -> Tensor:
        """Lower when the steering classifier sees the concept (a scalar, differentiable)."""
        raise NotImplementedError

    def shows_concept(self, images: Tensor) -> Tensor:
        """Per image: the judge sees the concept (realism not included)."""
        raise NotImplementedError

    def realistic(self, images: Tensor) -> Tensor:
        raise NotImplementedError

    def judge(self, images: Tensor) -> Tensor:
        """Per image: the concept is shown by a realistic sample (what counts as success)."""
        images = images.detach().float().cpu()
        return self.shows_concept(images) & self.realistic(images)

    def examples(self, n: int, seed: int) -> Tensor:
        """``n`` real examples of the concept (the relearning attack's data)."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"steered by {self.steer_name}; judged by {self.judge_name} + realism"


# -- digits -------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _digits_svm():
    """An RBF SVM on raw pixels, trained on the train split (a judge unlike the CNN)."""
    from sklearn.svm import SVC

    images, labels = load_digits_tensors("train")
    return SVC(C=10.0, gamma="scale").fit(images.flatten(1).numpy(), labels.numpy())


@lru_cache(maxsize=1)
def _digits_evaluator() -> DigitsEvaluator:
    return DigitsEvaluator.load()


@lru_cache(maxsize=16)
def _digits_realism(concept_ids: tuple[int, ...]) -> RealismCheck:
    """Realism against every real digit (train and test) of the concept's classes."""
    images, labels = load_digits_tensors("all")
    concept = images[torch.isin(labels, torch.tensor(concept_ids))]
    return RealismCheck(_digits_evaluator().features(concept))


class DigitsKit(AttackKit):
    """The bundled digits: steered by the evaluator CNN, judged by a pixel SVM."""

    steer_name = "digits CNN evaluator"
    judge_name = "RBF SVM on pixels"

    def __init__(self, concept_ids: Sequence[int]) -> None:
        self.concept_ids = [int(i) for i in concept_ids]
        self.evaluator = _digits_evaluator()
        self.realism = _digits_realism(tuple(sorted(self.concept_ids)))

    def steer_loss(self, images: Tensor) -> Tensor:
        logits = self.evaluator.network.to(images.device)(images.float())
        log_p = torch.log_softmax(logits, dim=1)[:, self.concept_ids]
        return -torch.logsumexp(log_p, dim=1).mean()

    def shows_concept(self, images: Tensor) -> Tensor:
        pred = _digits_svm().predict(images.flatten(1).numpy())
        return torch.from_numpy(np.isin(pred, self.concept_ids))

    def realistic(self, images: Tensor) -> Tensor:
        return self.realism(self.evaluator.features(images))

    def examples(self, n: int, seed: int) -> Tensor:
        images, labels = load_digits_tensors("train")
        pool = images[torch.isin(labels, torch.tensor(self.concept_ids))]
        order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))
        return pool[order[:n]]


# -- shapes -------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _shapes_evaluator() -> ShapesEvaluator:
    return ShapesEvaluator()


REALISM_EXAMPLES = 1000


class ShapesKit(AttackKit):
    """The bundled shapes toy: steered by a CNN, judged by the analytic evaluator."""

    steer_name = "shapes CNN (bundled, trained on the renderer)"
    judge_name = "analytic shapes evaluator"

    def __init__(self, concepts: Sequence[str]) -> None:
        self.concepts = [
            (
                [i for i, c in enumerate(shapes.COLOURS) if mentions(concept, c)],
                [i for i, s in enumerate(shapes.SHAPES) if mentions(concept, s)],
            )
            for concept in concepts
        ]
        if not any(colours or kinds for colours, kinds in self.concepts):
            raise ValueError("the shapes kit judges colour and shape words only")
        self.network = load_shapes_classifier()
        self.evaluator = _shapes_evaluator()
        examples = self.examples(REALISM_EXAMPLES, seed=11)
        self.realism = RealismCheck(self.evaluator.features(examples))

    def steer_loss(self, images: Tensor) -> Tensor:
        colour_logits, shape_logits = self.network.to(images.device)(images.float())
        log_colour = torch.log_softmax(colour_logits, dim=1)
        log_shape = torch.log_softmax(shape_logits, dim=1)
        per_concept = []
        for colours, kinds in self.concepts:
            term = torch.zeros(len(images), device=images.device)
            if colours:
                term = term + log_colour[:, colours].logsumexp(dim=1)
            if kinds:
                term = term + log_shape[:, kinds].logsumexp(dim=1)
            per_concept.append(term)
        return -torch.stack(per_concept).logsumexp(dim=0).mean()

    def shows_concept(self, images: Tensor) -> Tensor:
        colour, kind = self.evaluator.read(images)
        shown = torch.zeros(len(images), dtype=torch.bool)
        for colours, kinds in self.concepts:
            hit = torch.ones(len(images), dtype=torch.bool)
            if colours:
                hit &= torch.isin(colour, torch.tensor(colours))
            if kinds:
                hit &= torch.isin(kind, torch.tensor(kinds))
            shown |= hit
        return shown

    def realistic(self, images: Tensor) -> Tensor:
        present = self.evaluator.coverage(images).flatten(1).sum(1) >= MIN_AREA
        return present & self.realism(self.evaluator.features(images))

    def examples(self, n: int, seed: int) -> Tensor:
        """Renders of every caption that shows a concept, in turn."""
        captions = [
            i
            for i, (_, colour, kind) in enumerate(shapes.CAPTIONS)
            if any(
                (not cs or list(shapes.COLOURS).index(colour) in cs)
                and (not ks or shapes.SHAPES.index(kind) in ks)
                for cs, ks in self.concepts
            )
        ]
        picks = torch.tensor(captions).repeat(n // len(captions) + 1)[:n]
        n_shapes = len(shapes.SHAPES)
        rng = torch.Generator().manual_seed(seed)
        return shapes.render(picks // n_shapes, picks % n_shapes, rng)
