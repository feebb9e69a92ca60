"""Figure 9 (SVHN, z = 64, early stopping with patience 15): how the six procedures converge.

Each convergence run logs its validation loss per epoch (`val_loss`); as in the paper it is divided by
its value after the first epoch, so every procedure starts at 1. Per seed:

- collapse (F-F-FP): after its best epoch the loss never comes back within half of the improvement it
  had made by then, and the best epoch + 1 lies in the stated window (around epoch 15);
- near-optimal within N epochs (the other five): the best loss of the first N epochs is within
  `tolerance` of the run's total improvement from its best;
- total training time (epochs × time per epoch) of F-F-FP over I-F-FP: about the stated ratio.

The first two are counts over seeds: the claim holds when every seed shows it and fails when no seed
does (at least `min_seeds` seeds either way).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.report.claims.common import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    SeedTest,
    Verdict,
    ids,
    judge,
    min_seeds,
    no_data,
)
from benchmark.report.curves import metric_series
from benchmark.report.data import ReportData
from mike.featpred.procedure_table import PROCEDURES

NO_RUNS = "no convergence runs (SVHN, z = 64, patience 15); the suite plans them only with --svhn-root"


def scaled_val_loss(store, run_id) -> np.ndarray:
    """Validation loss per epoch divided by the first epoch's (the paper's scaling)."""
    curve = metric_series(store, run_id, "val_loss").to_numpy(dtype=float)
    return curve / curve[0] if len(curve) and curve[0] > 0 else curve


def collapse_epoch(curve: np.ndarray) -> int | None:
    """1-based epoch of a collapse that is never recovered from, or None. A loss that turns non-finite
    (nan, inf) after its best epoch has collapsed and not recovered."""
    if not np.isfinite(curve).any():
        return None
    best = int(np.nanargmin(np.where(np.isfinite(curve), curve, np.nan)))
    after = curve[best + 1 :]
    if len(after) == 0 or best == 0:
        return None
    gained = curve[0] - curve[best]
    worse = ~np.isfinite(after) | (after - curve[best] >= 0.5 * gained)
    return best + 2 if bool(np.all(worse)) else None


def near_optimal_within(curve: np.ndarray, epochs: int, tolerance: float) -> bool:
    """The best loss of the first `epochs` epochs is within `tolerance` of the gain to the best overall."""
    finite = np.where(np.isfinite(curve), curve, np.nan)
    if np.isnan(finite[:epochs]).all():
        return False
    gained = finite[0] - np.nanmin(finite)
    return bool(np.nanmin(finite[:epochs]) - np.nanmin(finite) <= tolerance * max(gained, 1e-12))


def _runs(data: ReportData, procedure: str) -> pd.DataFrame:
    c = data.convergence
    return c[c["procedure"] == procedure] if not c.empty else c


def count_verdict(claim, flags: dict[str, pd.Series], what: str, run_ids: list[str]) -> Verdict:
    """Holds: every seed of every group shows it; fails: some group shows it in no seed."""
    n = min((len(f) for f in flags.values()), default=0)
    parts = [f"{name}: {int(f.sum())}/{len(f)} seeds" for name, f in flags.items()]
    floor = min_seeds(claim)
    if n < floor:
        verdict, why = INCONCLUSIVE, f"inconclusive (n seeds = {n} < {floor}). "
    elif all(f.all() for f in flags.values()):
        verdict, why = HOLDS, ""
    elif any(not f.any() for f in flags.values()):
        verdict, why = FAILS, ""
    else:
        verdict, why = INCONCLUSIVE, ""
    method = f"count over {n} seeds: holds when every seed {what}, fails when none does"
    return Verdict(claim, verdict, why + "; ".join(parts), run_ids, n, method, "n/a (a count)")


def fig9_ffp_collapse(claim, data: ReportData, store) -> Verdict:
    runs = _runs(data, "F-F-FP")
    if runs.empty:
        return no_data(claim, NO_RUNS)
    low, high = claim["window"]
    flags, epochs = {}, []
    for row in runs.itertuples():
        epoch = collapse_epoch(scaled_val_loss(store, row.run_id))
        epochs.append(f"seed {row.seed}: {epoch or 'none'}")
        flags[row.seed] = epoch is not None and low <= epoch <= high
    verdict = count_verdict(
        claim, {"F-F-FP": pd.Series(flags)}, f"collapses in epochs {low}–{high}", ids(runs)
    )
    verdict.measured += f"; collapse epoch per seed: {', '.join(epochs)}"
    return verdict


def fig9_near_optimal(claim, data: ReportData, store) -> Verdict:
    if data.convergence.empty:
        return no_data(claim, NO_RUNS)
    within, tolerance = claim["within_epochs"], claim["tolerance"]
    flags, run_ids, capped = {}, [], []
    for procedure in (p for p in PROCEDURES if p != "F-F-FP"):
        runs = _runs(data, procedure)
        seeds = {}
        for row in runs.itertuples():
            seeds[row.seed] = near_optimal_within(scaled_val_loss(store, row.run_id), within, tolerance)
            if pd.notna(row.best_epoch) and row.epochs - 1 - row.best_epoch < claim.get("patience", 15):
                capped.append(f"{procedure} seed {row.seed}")
        if seeds:
            flags[procedure] = pd.Series(seeds)
        run_ids += ids(runs)
    verdict = count_verdict(claim, flags, f"is near-optimal within {within} epochs", run_ids)
    if capped:
        verdict.measured += f"; stopped by the epoch cap, not by patience: {', '.join(capped)}"
    return verdict


def fig9_ffp_total_time(claim, data: ReportData, store) -> Verdict:
    ffp, ifp = _runs(data, "F-F-FP"), _runs(data, "I-F-FP")
    if ffp.empty or ifp.empty:
        return no_data(claim, NO_RUNS)

    def total(runs):
        return (runs["epochs"] * runs["epoch_seconds"]).groupby(runs["seed"]).mean()

    ratio = (total(ffp) / total(ifp)).dropna()
    about, tolerance = claim["about"], claim["tolerance"]
    tests = [
        SeedTest("F-F-FP / I-F-FP total time", ratio, True, about - tolerance),
        SeedTest("F-F-FP / I-F-FP total time", ratio, False, about + tolerance),
    ]
    return judge(claim, tests, ids(ffp) + ids(ifp), correct=False)
