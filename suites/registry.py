"""Every suite by name, and the local paths suites may need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mike.profiles import Profile
from suites.loss_suites import losses
from suites.mike_suites import SUITES as MIKE_SUITES
from suites.plan import Planned
from suites.section5_suites import SUITES as SECTION5_SUITES

PAPER_SUITES = (*MIKE_SUITES, "losses")  # what `all` runs: the two papers' experiments
SUITE_NAMES = (*PAPER_SUITES, *SECTION5_SUITES)  # and Section 5's, by name or as `section5`
GROUPS = {"all": PAPER_SUITES, "section5": tuple(SECTION5_SUITES)}


@dataclass(frozen=True)
class SuitePaths:
    coco_root: Path | None = None
    alexnet_weights: Path | None = None
    svhn_root: Path | None = None
    stl10_root: Path | None = None


def default_seeds(suite: str, profile: Profile) -> list[int]:
    """Seeds 0..K-1 with the profile's K: MIKE suites `seeds` (the paper reports one run), the
    feature-prediction study `losses.seeds` (the paper repeats it 4 times)."""
    return list(range(profile.losses.seeds if suite == "losses" else profile.seeds))


def build_plan(name: str, profile: Profile, seeds: list[int] | None, paths: SuitePaths) -> list[Planned]:
    """The runs of suite `name` ('all': the papers' suites, 'section5': Section 5's; shared runs once),
    dependencies first.

    seeds: the same seeds for every suite, or None for each suite's default (default_seeds)."""
    names = GROUPS.get(name, (name,))
    plan, seen = [], set()
    for suite in names:
        chosen = seeds if seeds is not None else default_seeds(suite, profile)
        if suite == "losses":
            runs = losses(profile, chosen, paths.alexnet_weights, paths.svhn_root, paths.stl10_root)
        else:
            runs = {**MIKE_SUITES, **SECTION5_SUITES}[suite](profile, chosen, paths.coco_root)
        for p in runs:
            if p.spec.hash not in seen:
                seen.add(p.spec.hash)
                plan.append(p)
    return plan
