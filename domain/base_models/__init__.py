"""Base models: the teachers jobs unlearn from (bundled, uploaded, or referenced)."""
