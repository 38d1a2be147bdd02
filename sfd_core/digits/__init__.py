"""The bundled digits domain: scikit-learn's 8x8 digits and the teacher trained on them."""

from .data import CLASS_NAMES, load_digits_tensors

__all__ = ["CLASS_NAMES", "load_digits_tensors"]
