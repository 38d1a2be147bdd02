"""Train the shapes steering classifier and save it into sfd_core/bundled/shapes_classifier.

    .venv/bin/python scripts/train_shapes_classifier.py

Prints held-out colour and shape accuracy on freshly rendered images.
"""

from __future__ import annotations

import torch

from sfd_core.probes.shapes_classifier import save_shapes_classifier, train_shapes_classifier
from sfd_core.text import shapes


def main() -> None:
    network = train_shapes_classifier()
    images, captions = shapes.sample_batch(2000, torch.Generator().manual_seed(99))
    with torch.no_grad():
        colour_logits, shape_logits = network(images)
    n_shapes = len(shapes.SHAPES)
    colour_acc = (colour_logits.argmax(1) == captions // n_shapes).float().mean().item()
    shape_acc = (shape_logits.argmax(1) == captions % n_shapes).float().mean().item()
    print(f"held-out colour accuracy {colour_acc:.4f}, shape accuracy {shape_acc:.4f}")
    save_shapes_classifier(network)


if __name__ == "__main__":
    main()
