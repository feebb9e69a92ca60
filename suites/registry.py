"""Every suite by name, and the local paths suites may need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mike.profiles import Profile
from suites.loss_suites import losses
from suites.mike_suites import SUITES as MIKE_SUITES
from suites.plan import Planned

SUITE_NAMES = (*MIKE_SUITES, "losses")


@dataclass(frozen=True)
class SuitePaths:
    coco_root: Path | None = None
    alexnet_weights: Path | None = None
    svhn_root: Path | None = None
    stl10_root: Path | None = None


def build_plan(name: str, profile: Profile, seeds: list[int], paths: SuitePaths) -> list[Planned]:
    """The runs of suite `name` ('all': every suite, shared runs once), dependencies first."""
    names = SUITE_NAMES if name == "all" else (name,)
    plan, seen = [], set()
    for suite in names:
        if suite == "losses":
            runs = losses(profile, seeds, paths.alexnet_weights, paths.svhn_root, paths.stl10_root)
        else:
            runs = MIKE_SUITES[suite](profile, seeds, paths.coco_root)
        for p in runs:
            if p.spec.hash not in seen:
                seen.add(p.spec.hash)
                plan.append(p)
    return plan
