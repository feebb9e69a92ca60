"""What every claim evaluator shares: the verdict, and judging a claim from one-sided tests over seeds.

A claim is a family of comparisons (`SeedTest`), each a set of seed-level values with a threshold and the
side the paper claims. It holds when (at least `need` of) the comparisons are significantly on the claimed
side, after Holm's correction; it fails when so many are significantly on the other side (always
Holm-corrected: "some comparison contradicts it" is a union) that it cannot hold; otherwise it is
inconclusive. A claim's `smallest_effect` moves "the other side" to the effect that would matter: an
advantage significantly smaller than it counts against the claim, so that no real effect is a "fails"
once the seeds can show it, not an "inconclusive" for ever. Equivalence claims ("about", "within",
"comparable") are two bounds per value (TOST), an intersection that needs no correction on the claimed
side. Below the claim's `min_seeds` the verdict is inconclusive whatever the numbers, and says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from benchmark.report.stats import ALPHA, holm, mde, one_sided_bounds, one_sided_p, seeds_for

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"
DEFAULT_MIN_SEEDS = 3
DATASET_NAMES = {"lunar_lander": "LunarLander", "svhn": "SVHN", "stl10": "STL-10"}
NEEDS_ROOT = {"svhn": "--svhn-root", "stl10": "--stl10-root"}


NO_VALUES = pd.Series(dtype=float)  # the seed values of a planned comparison that did not run


@dataclass
class Verdict:
    claim: dict
    verdict: str
    measured: str
    run_ids: list[str] = field(default_factory=list)
    n_seeds: int | None = None
    method: str = "—"
    mde: str = "—"
    setting: str = ""  # which setting of the runs it was computed in (filled by evaluate)
    label: str = ""  # e.g. computed with the substitute loss network: not the paper's setting
    preconditions: list = field(default_factory=list)  # the checks made before it (preconditions.Check)
    seeds_needed: str = "—"  # seeds for 80% power at the smallest effect that matters, at the observed spread
    spread: float = float("nan")  # the largest seed-level standard deviation among its comparisons


@dataclass(frozen=True)
class SeedTest:
    """One comparison: seed-level values; the paper says their mean is above (greater) or below threshold."""

    name: str
    values: pd.Series  # indexed by seed
    greater: bool = True
    threshold: float = 0.0
    # The smallest effect that would matter: a mean significantly short of threshold ± margin counts
    # against the claim (its effect is negligible), so a claim with no real effect fails given enough
    # seeds instead of staying inconclusive forever. 0: only a significant reversal counts against it.
    margin: float = 0.0

    @property
    def clean(self) -> np.ndarray:
        return self.values.dropna().to_numpy(dtype=float)

    def p_claimed(self) -> float:
        return one_sided_p(self.clean, self.threshold, self.greater)

    def p_reversed(self) -> float:
        against = self.threshold + (self.margin if self.greater else -self.margin)
        return one_sided_p(self.clean, against, not self.greater)

    def text(self, p: float) -> str:
        x = self.clean
        if len(x) == 0:
            return f"{self.name}: no data"
        low, high = one_sided_bounds(x)
        interval = "" if math.isnan(low) else f" [90% CI {low:.3g}, {high:.3g}]"
        side = ">" if self.greater else "<"
        return f"{self.name}: {x.mean():.3g}{interval} (claim {side} {self.threshold:g}, p = {p:.2g})"


def no_data(claim: dict, why: str) -> Verdict:
    return Verdict(claim, INCONCLUSIVE, f"no data: {why}")


def min_seeds(claim: dict) -> int:
    return int(claim.get("min_seeds", DEFAULT_MIN_SEEDS))


def judge(
    claim: dict,
    tests: Sequence[SeedTest],
    run_ids: list[str],
    need: int | None = None,
    correct: bool = True,
    note: str = "",
    blocked: str = "",
) -> Verdict:
    """The verdict of one family of seed-level tests (see the module doc)."""
    return judge_groups(claim, [("", list(tests), need)], run_ids, correct, note, blocked)


def judge_groups(
    claim: dict,
    groups: Sequence[tuple[str, list[SeedTest], int | None]],
    run_ids: list[str],
    correct: bool = True,
    note: str = "",
    blocked: str = "",
) -> Verdict:
    """Groups of tests (name, tests, need: None = all), each of which must hold for the claim to hold.

    The claimed side: a group that needs every test is an intersection-union test, each test at α with
    no correction (all must reject); a group that needs k of m is Holm-corrected within itself. The other
    side — some comparison significantly against the claim, or significantly short of its smallest effect
    that matters — is a union of tests: Holm over every test. A test significant both ways (a real but
    negligible effect) counts against. A planned comparison without data counts as neither (p = 1 both
    ways, still one of Holm's m): it keeps an all-of group from holding (a k-of-m group only when fewer
    than `need` others hold), never makes the claim fail, and the verdict names it. `correct=False` marks
    equivalence bounds (TOST): no smallest effect applies. `blocked`: a reason that keeps the verdict
    inconclusive whatever the numbers (e.g. a dataset did not run).
    """
    effect = float(claim.get("smallest_effect", 0.0)) if correct else 0.0
    groups = [
        (
            name,
            [replace(t, margin=effect) if effect else t for t in tests],
            len(tests) if need is None else need,
        )
        for name, tests, need in groups
        if tests
    ]
    tests = [t for _, g, _ in groups for t in g]
    present = [t for t in tests if len(t.clean)]
    if not present:
        return no_data(claim, blocked or "no runs to compare")
    absent = [t.name for t in tests if not len(t.clean)]
    n = min(len(t.clean) for t in present)
    p_claimed = [t.p_claimed() for t in tests]  # 1.0 without data: neither side
    against = holm([t.p_reversed() for t in tests])
    holds, fails, parts, start = True, False, [], 0
    for name, g, need in groups:
        ps = p_claimed[start : start + len(g)]
        claimed = [p < ALPHA for p in ps] if need == len(g) else holm(ps)
        k_against = sum(against[start : start + len(g)])
        k_claimed = sum(c and not a for c, a in zip(claimed, against[start : start + len(g)], strict=True))
        start += len(g)
        holds &= k_claimed >= need
        fails |= k_against > max(len(g) - need, 0)  # enough against that it cannot hold
        side = "negligible or against" if effect else "against"
        counts = f"{k_claimed}/{len(g)} significant as claimed, {k_against} {side}"
        parts.append((f"{name}: " if name else "") + counts + (f" (needs {need})" if need < len(g) else ""))
    floor = min_seeds(claim)
    if absent:
        # A comparison that did not run counts as neither side (p = 1 both ways, inside Holm's m): it keeps an
        # all-of group from holding, and a k-of-m group unless `need` others hold without it.
        note = (note + "; " if note else "") + f"no data for {len(absent)}: {', '.join(absent[:6])}"
        note += " …" if len(absent) > 6 else ""
    if n < floor:
        verdict, why = INCONCLUSIVE, f"inconclusive (n seeds = {n} < {floor}). "
    elif blocked:
        verdict, why = INCONCLUSIVE, f"inconclusive ({blocked}). "
    else:
        verdict, why = (HOLDS if holds else FAILS if fails else INCONCLUSIVE), ""
    details = [t.text(p) for t, p in zip(tests, p_claimed, strict=True) if len(t.clean)]
    if len(details) > 8:  # e.g. the 121 comparisons of Figure 3: the weakest ones tell the story
        shown = [(p, d) for t, p, d in zip(present, [x.p_claimed() for x in present], details, strict=True)]
        details = ["weakest: " + "; ".join(d for _, d in sorted(shown, key=lambda pd: -pd[0])[:3])]
    measured = why + (note + "; " if note else "") + "; ".join(parts) + ". " + "; ".join(details)
    alphas = [ALPHA if need == len(g) else ALPHA / len(g) for _, g, need in groups for _ in g]
    return Verdict(
        claim,
        verdict,
        measured,
        run_ids,
        n,
        _method(n, groups, correct),
        _mde(tests, alphas, effect),
        seeds_needed=_seeds_needed(tests, alphas, effect),
        spread=max((float(np.std(t.clean, ddof=1)) for t in tests if len(t.clean) > 1), default=math.nan),
    )


def _method(n: int, groups, correct: bool) -> str:
    m = sum(len(g) for _, g, _ in groups)
    text = f"one-sided t over {n} seed-level values, α = {ALPHA}"
    if m > 1:
        all_needed = all(need == len(g) for _, g, need in groups)
        claimed = "every test at α (intersection-union)" if all_needed else "Holm within k-of-m groups"
        kind = "" if correct else "equivalence bounds (TOST), "
        text += f"; {m} tests: {kind}{claimed}; against: Holm over {m}"
    return text


def _mde(tests: Sequence[SeedTest], alphas: Sequence[float], effect: float) -> str:
    """Minimum detectable effect at 80% power from the observed seed-level spread, at each test's level."""
    values = [
        mde(float(np.std(t.clean, ddof=1)), len(t.clean), a)
        for t, a in zip(tests, alphas, strict=True)
        if len(t.clean) > 1
    ]
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "n/a (under 2 seeds)"
    low, high = min(values), max(values)
    text = f"{low:.3g}" if math.isclose(low, high) else f"{low:.3g}–{high:.3g}"
    return text + (f" (smallest effect that matters: {effect:g})" if effect else "")


def _seeds_needed(tests: Sequence[SeedTest], alphas: Sequence[float], effect: float) -> str:
    """Seeds for 80% power in every comparison at the observed seed-level spread, each at its level: to
    detect the smallest effect that matters (with it, a claim with no real effect can fail as well as one
    with an effect hold), or else the observed distance to the threshold (an estimate: it moves with the
    data). A power analysis for the next run, printed beside each verdict."""
    needed = []
    for t, a in zip(tests, alphas, strict=True):
        x = t.clean
        if len(x) < 2:
            continue
        target = effect if effect > 0 else abs(float(x.mean()) - t.threshold)
        needed.append(seeds_for(float(np.std(x, ddof=1)), target, a))
    if not needed:
        return "n/a (under 2 seeds)"
    worst = max(needed)
    basis = "smallest effect" if effect > 0 else "observed effect"
    return ("> 200" if math.isinf(worst) else str(int(worst))) + f" ({basis})"


def ids(frame: pd.DataFrame) -> list[str]:
    return frame["run_id"].astype(str).tolist() if "run_id" in frame else []


def missing_datasets(present: set[str], wanted: Sequence[str]) -> list[str]:
    return [d for d in wanted if d not in present]


def missing_text(missing: Sequence[str]) -> str:
    names = ", ".join(
        f"{DATASET_NAMES.get(d, d)} (needs {NEEDS_ROOT[d]})" if d in NEEDS_ROOT else d for d in missing
    )
    return f"not every dataset ran: missing {names}"
