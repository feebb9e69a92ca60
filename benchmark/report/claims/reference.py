"""The feature-prediction paper's stated values: Table II, STL-10's levels, and the FP / PS time ratios.

Absolute values are judged only in the paper's setting (paper profile, ImageNet AlexNet); elsewhere the
measured values are shown and the verdict is inconclusive ("not comparable"). A value is judged by
equivalence: the seed-level mean significantly inside [reference − tolerance, reference + tolerance] (two
one-sided tests); significantly outside either bound, it fails.

LunarLander's rows are shown, not judged. The original code tests `mean(‖prediction − label‖₂)` with
labels = the normalised (x, y) of gym's observation — the unit of this suite's distance. Table II's values
(1.92 … 13.76) cannot be in that unit (predicting the mean position already scores about 0.5), and the
paper does not say which they are in. Two readings fit and lie 3.1× apart: hundredths of the normalised
coordinate (I-F-FP 0.0192), or pixels of the 64×64 frame, where one normalised unit is 32 px (I-F-FP
0.060). A verdict would depend on the guess, so those rows print the measured value beside both
readings (`lunar_readings` in claims.toml) and the claim is judged on STL-10 and SVHN.
"""

from __future__ import annotations

import pandas as pd

from benchmark.report.claims.common import (
    DATASET_NAMES,
    SeedTest,
    Verdict,
    ids,
    judge,
    missing_datasets,
    missing_text,
    no_data,
)
from benchmark.report.claims.featpred import dataset_needed, datasets_run, seed_means
from benchmark.report.data import ReportData

SIMPLE_CNN = "simple CNN"


def comparable_to_paper(data: ReportData) -> list[str]:
    """Why these feature-prediction numbers are not the paper's setting (empty: comparable)."""
    reasons = []
    if data.profile != "paper":
        reasons.append(f"profile {data.profile} (reduced scale)")
    if "substitute" in data.data_sources.get("loss_networks", []):
        reasons.append("substitute loss network, not ImageNet AlexNet")
    return reasons


def level_values(data: ReportData, dataset: str, procedure: str) -> pd.Series:
    """Per seed: a procedure's metric (mean over z), or the simple CNN's."""
    if procedure != SIMPLE_CNN:
        return seed_means(data, dataset, procedure)
    cnn = data.simple_cnn
    return cnn[cnn["dataset"] == dataset].groupby("seed")["value"].mean() if not cnn.empty else pd.Series()


def _band_tests(name: str, values: pd.Series, low: float | None, high: float | None) -> list[SeedTest]:
    tests = []
    if low is not None:
        tests.append(SeedTest(name, values, True, low))
    if high is not None:
        tests.append(SeedTest(name, values, False, high))
    return tests


def _blocked(data: ReportData, datasets) -> str:
    reasons = comparable_to_paper(data)
    missing = missing_datasets(datasets_run(data), sorted(set(datasets)))
    if missing:
        reasons.append(missing_text(missing))
    return "not comparable: " + "; ".join(reasons) if reasons else ""


def _run_ids(data: ReportData, datasets) -> list[str]:
    cnn = data.simple_cnn
    extra = ids(cnn[cnn["dataset"].isin(list(datasets))]) if not cnn.empty else []
    return ids(data.probes[data.probes["dataset"].isin(list(datasets))]) + extra


def fp_reference_values(claim, data: ReportData, store) -> Verdict:
    """Table II: each accuracy within max(2 sd, tolerance) of the paper's; LunarLander's distances (unit
    not stated) shown beside each reading of the paper's value, not judged."""
    tests, shown = [], []
    for ref in claim["values"]:
        values = level_values(data, ref["dataset"], ref["procedure"])
        if values.empty:
            continue
        if ref["dataset"] == "lunar_lander":
            readings = ", ".join(
                f"{r['name']}: {ref['mean'] * r['scale']:.3g}" for r in claim.get("lunar_readings", [])
            )
            shown.append(
                f"{ref['procedure']} {values.mean():.3g} (paper {ref['mean']:g}, read as {readings})"
            )
            continue
        tolerance = max(2 * ref["sd"], claim["tolerance_accuracy"])
        name = f"{ref['procedure']} {DATASET_NAMES[ref['dataset']]} (paper {ref['mean']:.3g})"
        tests += _band_tests(name, values, ref["mean"] - tolerance, ref["mean"] + tolerance)
    note = (
        "LunarLander rows not judged, the paper's unit being unstated: " + "; ".join(shown) if shown else ""
    )
    datasets = [v["dataset"] for v in claim["values"]]
    if not tests:
        return no_data(
            claim, (note + "; " if note else "") + "no STL-10 or SVHN runs of the tabulated procedures"
        )
    return judge(
        claim, tests, _run_ids(data, datasets), correct=False, note=note, blocked=_blocked(data, datasets)
    )


def fp_levels(claim, data: ReportData, store) -> Verdict:
    """Stated levels of one dataset: each procedure's accuracy inside its band (e.g. STL-10's three)."""
    if (missing := dataset_needed(claim, data)) is not None:
        return missing
    dataset, tests = claim["dataset"], []
    for band in claim["bands"]:
        values = level_values(data, dataset, band["procedure"])
        tests += _band_tests(band["procedure"], values, band.get("low"), band.get("high"))
    return judge(claim, tests, _run_ids(data, [dataset]), correct=False, blocked=_blocked(data, [dataset]))


def fp_time_ratio(claim, data: ReportData, store) -> Verdict:
    """Time per epoch of some procedures over others, about the stated value (± tolerance), per seed."""
    if (missing := dataset_needed(claim, data)) is not None:
        return missing
    dataset = claim["dataset"]

    def seconds(procedures) -> pd.Series:
        return pd.concat([seed_means(data, dataset, p, "epoch_seconds") for p in procedures], axis=1).mean(
            axis=1, skipna=False
        )

    ratio = (seconds(claim["numerator"]) / seconds(claim["denominator"])).dropna()
    about, tolerance = claim["about"], claim["tolerance"]
    name = f"{'+'.join(claim['numerator'])} / {'+'.join(claim['denominator'])}"
    tests = _band_tests(name, ratio, about - tolerance, about + tolerance)
    return judge(claim, tests, _run_ids(data, [dataset]), correct=False)
