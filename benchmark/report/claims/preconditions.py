"""What must be true of the runs before a claim about them means anything, checked before every verdict.

- teachers: each teacher behind a verdict's runs segments well above the best constant predictor on its
  task's test split. A normalised IoU is a ratio to the teacher's IoU: a teacher near the constant makes it
  meaningless (a teacher no run of the verdict used says nothing about it).
- embeddings: on each dataset, each procedure's probes beat the constant guess (mean position, majority
  class) by a clear margin, judged over seeds: the one-sided 95% bound of the seed-level gain (mean over z)
  must clear the margin. Procedures that all sit at the constant guess are compared on noise.
- stopped: each probed autoencoder stopped because its validation loss stopped improving (patience), not
  because it ran out of epochs: an encoder cut short compares training lengths, not losses.
- quiet: every timed autoencoder ran alone (`info.runs_at_once` = 1): runs sharing the cores time each
  other, so their time per epoch measures the neighbour as much as the procedure.

A claim lists the checks it needs (`preconditions` in reports/claims.toml); margins are in the file's
[preconditions] table. A check that is not met turns holds or fails into "inconclusive (precondition: …)";
one that cannot be made (too few seeds for an interval, or the runs lack the field) is shown as not checked
and blocks nothing: the verdict's own seed floor already applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd

from benchmark.report.data import ReportData
from benchmark.report.stats import one_sided_bounds
from mike.featpred.procedure_table import PROCEDURES

MET, NOT_MET, NOT_CHECKED = "met", "not met", "not checked"
DATASET_NAMES = {"lunar_lander": "LunarLander", "svhn": "SVHN", "stl10": "STL-10"}


@dataclass(frozen=True)
class Check:
    name: str  # e.g. "embeddings (LunarLander)"
    status: str  # MET, NOT_MET or NOT_CHECKED
    detail: str


def teachers(data: ReportData, params: dict) -> list[Check]:
    """Every teacher's test IoU at least `min_gain` above its task's constant predictor."""
    t = data.teachers
    gain = float(params["min_gain"])
    name = "teachers above the constant predictor"
    if t.empty:
        return [Check(name, NOT_CHECKED, "no teacher runs")]
    known = t.dropna(subset=["iou", "constant_iou"])
    if known.empty:
        return [
            Check(name, NOT_CHECKED, "no constant-predictor IoU recorded (no dataset runs of the test split)")
        ]
    short = known[known["iou"] - known["constant_iou"] < gain]
    summary = (
        f"teacher IoU {known['iou'].min():.3f}–{known['iou'].max():.3f} vs constant predictor "
        f"{known['constant_iou'].min():.3f}–{known['constant_iou'].max():.3f} over {len(known)} teachers "
        f"(needs a gain ≥ {gain:g})"
    )
    if short.empty:
        return [Check(name, MET, summary)]
    worst = ", ".join(
        f"{r.task} seed {r.seed}: {r.iou:.3f} vs {r.constant_iou:.3f}" for r in short.head(4).itertuples()
    )
    return [Check(name, NOT_MET, f"{len(short)} of {len(known)} teachers short: {worst}; {summary}")]


def _gain(probes: pd.DataFrame, dataset: str, procedure: str) -> pd.Series:
    """Per seed, the mean over z of how much better the probe is than the constant guess: relative for
    distances (1 − distance / constant), absolute for accuracy."""
    p = probes[(probes["dataset"] == dataset) & (probes["procedure"] == procedure)]
    p = p.dropna(subset=["value", "constant"])
    if dataset == "lunar_lander":
        gain = 1 - p["value"] / p["constant"]
    else:
        gain = p["value"] - p["constant"]
    return gain.groupby(p["seed"]).mean()


def embeddings(data: ReportData, params: dict, datasets: list[str]) -> list[Check]:
    """On each dataset, every procedure's seed-level gain over the constant guess clears the margin."""
    checks = []
    for dataset in datasets:
        margin = float(params["min_gain_distance" if dataset == "lunar_lander" else "min_gain_accuracy"])
        unit = "of the constant guess's distance" if dataset == "lunar_lander" else "accuracy"
        name = f"embeddings beat the constant guess ({DATASET_NAMES.get(dataset, dataset)})"
        parts, short, unchecked = [], [], []
        for procedure in PROCEDURES:
            gain = _gain(data.probes, dataset, procedure)
            if gain.empty:
                continue
            low, _ = one_sided_bounds(gain.to_numpy())
            bound = "no interval (1 seed)" if math.isnan(low) else f"95% lower bound {low:.3f}"
            parts.append(f"{procedure} {gain.mean():.3f} ({bound})")
            if math.isnan(low):
                unchecked.append(procedure)
            elif low < margin:
                short.append(procedure)
        if not parts:
            continue
        text = (
            f"gain over the constant guess, mean over z per seed (needs ≥ {margin:g} {unit}): "
            + "; ".join(parts)
        )
        if short:
            checks.append(Check(name, NOT_MET, f"not clearly better: {', '.join(short)}. {text}"))
        elif unchecked:
            checks.append(Check(name, NOT_CHECKED, text))
        else:
            checks.append(Check(name, MET, text))
    return checks


def stopped(data: ReportData, datasets: list[str]) -> list[Check]:
    """Every probed autoencoder on these datasets stopped for patience, not at its epoch limit."""
    checks = []
    a = data.autoencoders
    for dataset in datasets:
        on = a[a["dataset"] == dataset] if not a.empty else a
        name = f"autoencoders stopped for patience ({DATASET_NAMES.get(dataset, dataset)})"
        if on.empty:
            continue
        known = on.dropna(subset=["epochs", "max_epochs", "patience"])
        if known.empty:
            checks.append(Check(name, NOT_CHECKED, "the runs do not record epochs and patience"))
            continue
        # patience ran out: `patience` epochs after the best one (the last epoch may be the one it ran out on)
        best = known["best_epoch"].fillna(-1)
        by_patience = (known["epochs"] < known["max_epochs"]) | (
            known["epochs"] - 1 - best >= known["patience"]
        )
        cut = known[~by_patience]
        summary = (
            f"{len(known) - len(cut)} of {len(known)} stopped for patience "
            f"({int(known['patience'].max())} epochs) before the limit of {int(known['max_epochs'].max())}"
        )
        if cut.empty:
            checks.append(Check(name, MET, summary))
        else:
            which = ", ".join(sorted({f"{r.procedure} z={r.z}" for r in cut.itertuples()})[:6])
            checks.append(Check(name, NOT_MET, f"{summary}; ran out of epochs: {which}"))
    return checks


def quiet(data: ReportData, datasets: list[str], convergence: bool = False) -> list[Check]:
    """The timed autoencoders (Figure 9's, with `convergence`) ran with no other run beside them."""
    frame = data.convergence if convergence else data.autoencoders
    checks = []
    for dataset in datasets:
        on = frame[frame["dataset"] == dataset] if not frame.empty else frame
        if on.empty or "runs_at_once" not in on:
            continue
        name = f"timings taken alone ({DATASET_NAMES.get(dataset, dataset)})"
        known = on["runs_at_once"].dropna()
        if known.empty:
            checks.append(Check(name, NOT_CHECKED, "the runs do not record how many ran at once"))
        elif (known > 1).any():
            shared = int((known > 1).sum())
            checks.append(
                Check(
                    name,
                    NOT_MET,
                    f"{shared} of {len(known)} autoencoders shared the machine with up to "
                    f"{int(known.max()) - 1} other runs: their time per epoch is not theirs alone",
                )
            )
        else:
            checks.append(Check(name, MET, f"all {len(known)} autoencoders ran alone"))
    return checks


def used_teachers(data: ReportData, run_ids: list[str] | None) -> pd.DataFrame:
    """The teacher runs behind a verdict: those its downstream runs are normalised by and its encoders
    learned from (runs given by id). A teacher no run of the verdict used (a scaling study's replica,
    another setting's) says nothing about its normalised IoU. Without run ids: every teacher."""
    t = data.teachers
    if not run_ids or t.empty:
        return t
    ids, wanted = set(map(str, run_ids)), set()
    frames = (
        (data.downstream, "teacher"),
        (data.section5_downstream, "teacher"),
        (data.transfer, "teachers"),
        (data.section5_transfer, "teachers"),
        (data.sequential, "teachers"),
    )
    for frame, column in frames:
        if frame.empty or column not in frame or "run_id" not in frame:
            continue
        for value in frame.loc[frame["run_id"].astype(str).isin(ids), column].dropna():
            wanted |= set(value) if isinstance(value, list) else {value}
    return t[t["config_hash"].isin(wanted)]


def checks_for(claim: dict, data: ReportData, params: dict, run_ids: list[str] | None = None) -> list[Check]:
    """The checks a claim names, on the datasets it is about (its `dataset`, else every one that ran); the
    teachers check on the teachers behind the verdict's runs (`run_ids`; default: every teacher)."""
    wanted = claim.get("preconditions", [])
    if claim.get("dataset"):
        datasets = [claim["dataset"]]
    else:
        datasets = sorted(set(data.probes["dataset"].dropna())) if not data.probes.empty else []
    out: list[Check] = []
    if "teachers" in wanted:
        out += teachers(replace(data, teachers=used_teachers(data, run_ids)), params["teachers"])
    if "embeddings" in wanted:
        out += embeddings(data, params["embeddings"], datasets)
    if "stopped" in wanted:
        out += stopped(data, datasets)
    if "quiet" in wanted:
        out += quiet(data, datasets, convergence=claim["kind"].startswith("fig9"))
    return out


def family_checks(family: str, data: ReportData, params: dict) -> list[Check]:
    """Every check of a family of claims, for the report's preconditions table of one setting."""
    if family.startswith("MIKE"):  # the paper's MIKE suites and Section 5's
        return teachers(data, params["teachers"])
    datasets = sorted(set(data.probes["dataset"].dropna())) if not data.probes.empty else []
    return embeddings(data, params["embeddings"], datasets) + stopped(data, datasets) + quiet(data, datasets)
