"""Reference figures: the same probes on a model that never learned the concept.

``bench/robustness.py --write-references`` measures them (an SFD generator distilled from a
teacher trained without the concept, e.g. ``bundled/references/digits-without-0``) and stores
them in ``bundled/references/references.json``, keyed by the original teacher's sha256, the
concept and the probe budget. A job's report puts each attack's reference ASR beside its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..loading import BUNDLED_DIR

REFERENCES_FILE = BUNDLED_DIR / "references" / "references.json"


def _key(teacher_sha256: str, concept: str, budget: str) -> str:
    return f"{teacher_sha256}:{concept}:{budget}"


def load_references(path: Path = REFERENCES_FILE) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def find_reference(
    teacher_sha256: str, concept: str, budget: str, path: Path = REFERENCES_FILE
) -> dict[str, Any] | None:
    return load_references(path).get(_key(teacher_sha256, concept, budget))


def store_reference(
    teacher_sha256: str,
    concept: str,
    budget: str,
    section: dict[str, Any],
    model: str,
    path: Path = REFERENCES_FILE,
) -> None:
    """Record a reference model's probe section (ASR per attack, relearning steps)."""
    references = load_references(path)
    relearning = section.get("relearning") or {}
    references[_key(teacher_sha256, concept, budget)] = {
        "model": model,
        "attacks": {f"{a['probe']}:{a['start']}": a["asr"] for a in section["attacks"]},
        "steps_to_half": relearning.get("steps_to_half"),
        "seed": section["seed"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(references, indent=2, sort_keys=True) + "\n")


def apply_reference(section: dict[str, Any], reference: dict[str, Any] | None) -> None:
    """Put the reference's figures beside the section's own (in place)."""
    if reference is None:
        return
    section["reference"] = {"model": reference["model"], "seed": reference["seed"]}
    for attack in section["attacks"]:
        attack["reference_asr"] = reference["attacks"].get(f"{attack['probe']}:{attack['start']}")
    if section.get("relearning") is not None:
        section["relearning"]["reference_steps_to_half"] = reference["steps_to_half"]
