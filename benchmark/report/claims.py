"""Claims transcribed from the papers (reports/claims.toml), each judged from the stored runs.

An evaluator turns the report's tables into a verdict — holds, fails or inconclusive — with the measured
figure and the run ids behind it. The method of each is stated in the claims file (`judge`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.report.data import ReportData, layer_curves, single_teacher
from benchmark.report.stats import Interval, mean_ci, mean_sd
from mike.profiles import get_profile

CLAIMS_FILE = Path(__file__).resolve().parents[2] / "reports" / "claims.toml"
HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"


@dataclass
class Verdict:
    claim: dict
    verdict: str
    measured: str
    run_ids: list[str] = field(default_factory=list)


def load_claims(path: Path = CLAIMS_FILE) -> list[dict]:
    with open(path, "rb") as f:
        return tomllib.load(f)["claim"]


def _none(claim, why) -> Verdict:
    return Verdict(claim, INCONCLUSIVE, f"no data: {why}")


# ---- MIKE ----------------------------------------------------------------------------------------------


def fig3_pairs(data: ReportData) -> pd.DataFrame:
    """MIKE minus baseline per (encoder task, downstream task, seed)."""
    d = single_teacher(data.downstream)
    if d.empty:
        return pd.DataFrame()
    table = d.pivot_table(index=["encoder_tasks", "task", "seed"], columns="kind", values="value")
    if not {"MIKE", "pixel-wise"} <= set(table.columns):
        return pd.DataFrame()
    table = table.dropna()
    table["diff"] = table["MIKE"] - table["pixel-wise"]
    return table


def fig3_every_comparison(claim, data: ReportData, store) -> Verdict:
    pairs = fig3_pairs(data)
    if pairs.empty:
        return _none(claim, "no single-teacher MIKE and baseline downstream runs")
    per_cell = pairs.groupby(level=["encoder_tasks", "task"])["diff"].mean()
    wins, total = int((per_cell > 0).sum()), len(per_cell)
    ci = mean_ci(pairs["diff"])
    measured = f"MIKE ahead in {wins}/{total} comparisons; mean difference {ci.text()}"
    if ci.below() or wins < 0.75 * total:
        verdict = FAILS
    elif wins == total and total >= 121 and ci.above():
        verdict = HOLDS
    else:
        verdict = INCONCLUSIVE
    return Verdict(claim, verdict, measured, _ids(single_teacher(data.downstream)))


def fig3_each_average(claim, data: ReportData, store) -> Verdict:
    pairs = fig3_pairs(data)
    if pairs.empty:
        return _none(claim, "no single-teacher MIKE and baseline downstream runs")
    cis = {enc: mean_ci(g["diff"]) for enc, g in pairs.groupby(level="encoder_tasks")}
    above = sum(ci.above() for ci in cis.values())
    below = [enc for enc, ci in cis.items() if ci.below()]
    measured = f"{above}/{len(cis)} encoders with CI above 0" + (
        f"; below 0: {', '.join(below)}" if below else ""
    )
    verdict = FAILS if below else HOLDS if above == len(cis) == 11 else INCONCLUSIVE
    return Verdict(claim, verdict, measured, _ids(single_teacher(data.downstream)))


def encoder_values(data: ReportData, kind: str = "MIKE") -> pd.DataFrame:
    """Downstream values of each MIKE encoder (uniform schedule), indexed by (task, seed), one column each."""
    d = data.downstream
    d = d[(d["kind"] == kind) & (d["schedule"] == "uniform")]
    return d.pivot_table(index=["task", "seed"], columns="encoder_tasks", values="value")


def _paired(table: pd.DataFrame, a: str, b: str) -> Interval:
    both = table[[a, b]].dropna()
    return mean_ci(both[a] - both[b])


def fig4_three_best(claim, data: ReportData, store) -> Verdict:
    table, three = encoder_values(data), three_column(data)
    eleven = _eleven_column(table)
    missing = [
        n for n, c in (("three-teacher", three), ("CTB", "CTB"), ("eleven-teacher", eleven)) if c not in table
    ]
    if missing:
        return _none(claim, f"missing {', '.join(missing)} encoder runs")
    vs = {"CTB": _paired(table, three, "CTB"), "eleven": _paired(table, three, eleven)}
    measured = "; ".join(f"three − {k}: {ci.text()}" for k, ci in vs.items())
    verdict = (
        FAILS
        if any(ci.below() for ci in vs.values())
        else HOLDS
        if all(ci.above() for ci in vs.values())
        else INCONCLUSIVE
    )
    return Verdict(
        claim,
        verdict,
        measured,
        _ids(data.downstream[data.downstream["encoder_tasks"].isin([three, "CTB", eleven])]),
    )


def three_column(data: ReportData) -> str:
    return "+".join(get_profile(data.profile).suites.three_tasks)


def _eleven_column(table: pd.DataFrame) -> str | None:
    return next((c for c in table.columns if c.count("+") == 10), None)


def fig4_eleven_between(claim, data: ReportData, store) -> Verdict:
    table, three = encoder_values(data), three_column(data)
    eleven = _eleven_column(table)
    singles = [c for c in table.columns if "+" not in c]
    if eleven is None or three not in table or not singles:
        return _none(claim, "needs the eleven-teacher, three-teacher and single-teacher encoder runs")
    vs_three = _paired(table, eleven, three)
    vs_single = {s: _paired(table, eleven, s) for s in singles}
    n_above = sum(ci.above() for ci in vs_single.values())
    measured = (
        f"eleven − three: {vs_three.text()}; eleven above {n_above}/{len(singles)} single-teacher encoders"
    )
    if vs_three.above() or any(ci.below() for ci in vs_single.values()):
        verdict = FAILS
    elif vs_three.below() and n_above == len(singles) == 11:
        verdict = HOLDS
    else:
        verdict = INCONCLUSIVE
    return Verdict(claim, verdict, measured, _ids(data.downstream[data.downstream["kind"] == "MIKE"]))


def rebound(curves: pd.DataFrame) -> float:
    """Mean over layers of (mean loss in the last quarter of steps) / (minimum loss over the run)."""
    ratios = []
    for _, g in curves.groupby("layer"):
        g = g.sort_values("step")
        tail = g[g["step"] >= g["step"].min() + 0.75 * (g["step"].max() - g["step"].min())]
        low = g["loss"].min()
        if low > 0:
            ratios.append(tail["loss"].mean() / low)
    return float(np.mean(ratios)) if ratios else float("nan")


def progressive_runs(data: ReportData) -> pd.DataFrame:
    t = data.transfer
    if t.empty:
        return t
    return t[t["tasks"].map(len) == 1]


def fig56_instability(claim, data: ReportData, store) -> Verdict:
    t = progressive_runs(data)
    t = t[t["schedule"] == "progressive"]
    if t.empty:
        return _none(claim, "no last-layer progressive transfer runs")
    ratios, ids = [], []
    for _, prog in t.iterrows():
        task = prog["tasks"][0]
        same = data.transfer[
            (data.transfer["schedule"] == "uniform")
            & (data.transfer["seed"] == prog["seed"])
            & (data.transfer["tasks"].map(lambda ts, k=task: list(ts) == [k]))
        ]
        if same.empty:
            continue
        uni = same.iloc[0]
        ratios.append(
            rebound(layer_curves(store, prog["run_id"], task))
            / rebound(layer_curves(store, uni["run_id"], task))
        )
        ids += [prog["run_id"], uni["run_id"]]
    if not ratios:
        return _none(claim, "no uniform run to compare with")
    threshold = claim.get("threshold", 1.25)
    measured = "progressive/uniform rebound per seed: " + ", ".join(f"{r:.2f}" for r in ratios)
    verdict = (
        HOLDS
        if all(r >= threshold for r in ratios)
        else FAILS
        if all(r <= 1 for r in ratios)
        else INCONCLUSIVE
    )
    return Verdict(claim, verdict, measured, ids)


# ---- feature prediction --------------------------------------------------------------------------------


def _procedure_table(data: ReportData, dataset: str, column: str = "value") -> pd.DataFrame:
    p = data.probes
    p = p[p["dataset"] == dataset]
    return p.pivot_table(index=["z", "seed"], columns="procedure", values=column)


def fp_time_ratio(claim, data: ReportData, store) -> Verdict:
    if data.probes.empty:
        return _none(claim, "no losses-suite runs")
    ratios = []
    for dataset in sorted(data.probes["dataset"].unique()):
        t = _procedure_table(data, dataset, "epoch_seconds")
        if {"I-F-FP", "I-I-PS"} <= set(t.columns):
            ratios += list((t["I-F-FP"] / t["I-I-PS"]).dropna())
    if not ratios:
        return _none(claim, "needs I-F-FP and I-I-PS runs")
    ci = mean_ci(ratios)
    lo, hi = claim.get("range", [0.55, 0.75])
    measured = f"I-F-FP / I-I-PS time per epoch: {ci.text(2)}"
    if not np.isnan(ci.low) and ci.low >= 1.0:  # FP is not faster
        verdict = FAILS
    elif lo - 0.05 <= ci.mean <= hi + 0.05 and ci.below(1.0):
        verdict = HOLDS
    else:
        verdict = INCONCLUSIVE
    return Verdict(
        claim, verdict, measured, _ids(data.probes[data.probes["procedure"].isin(["I-F-FP", "I-I-PS"])])
    )


def fp_pw_worse(claim, data: ReportData, store) -> Verdict:
    t = _procedure_table(data, claim["dataset"])
    pw = [c for c in t.columns if c.endswith("PW")]
    rest = [c for c in t.columns if not c.endswith("PW")]
    if not pw or not rest:
        return _none(claim, f"no {claim['dataset']} runs of both kinds")
    ci = mean_ci((t[pw].mean(axis=1) - t[rest].mean(axis=1)).dropna())
    measured = f"PW − others, mean distance: {ci.text()}"
    verdict = HOLDS if ci.above() else FAILS if ci.below() else INCONCLUSIVE
    return Verdict(claim, verdict, measured, _ids(data.probes[data.probes["dataset"] == claim["dataset"]]))


def fp_ifp_vs_ps(claim, data: ReportData, store) -> Verdict:
    if data.probes.empty:
        return _none(claim, "no losses-suite runs")
    parts, verdicts = [], []
    for dataset in sorted(data.probes["dataset"].unique()):
        t = _procedure_table(data, dataset)
        if not {"I-F-FP", "I-I-PS"} <= set(t.columns):
            continue
        sign = -1 if dataset == "lunar_lander" else 1  # distance: lower is better
        diff = sign * (t["I-F-FP"] - t["I-I-PS"]).dropna()
        ci = mean_ci(diff)
        margin = 0.01 if sign == 1 else 0.05 * float(t["I-I-PS"].mean())
        parts.append(f"{dataset}: {ci.text()}")
        verdicts.append(FAILS if ci.below() else HOLDS if ci.mean >= -margin else INCONCLUSIVE)
    if not verdicts:
        return _none(claim, "needs I-F-FP and I-I-PS runs")
    verdict = FAILS if FAILS in verdicts else HOLDS if all(v == HOLDS for v in verdicts) else INCONCLUSIVE
    return Verdict(
        claim,
        verdict,
        "; ".join(parts),
        _ids(data.probes[data.probes["procedure"].isin(["I-F-FP", "I-I-PS"])]),
    )


def fp_ffp_worst(claim, data: ReportData, store) -> Verdict:
    t = _procedure_table(data, claim["dataset"])
    if "F-F-FP" not in t.columns or len(t.columns) < 2:
        return _none(claim, f"no {claim['dataset']} runs (give its files to the suite)")
    cis = {p: mean_ci((t["F-F-FP"] - t[p]).dropna()) for p in t.columns if p != "F-F-FP"}
    below = sum(ci.below() for ci in cis.values())
    measured = f"F-F-FP below {below}/{len(cis)} procedures; " + "; ".join(
        f"− {p}: {ci.text()}" for p, ci in cis.items()
    )
    verdict = (
        FAILS if any(ci.above() for ci in cis.values()) else HOLDS if below == len(cis) else INCONCLUSIVE
    )
    return Verdict(claim, verdict, measured, _ids(data.probes[data.probes["dataset"] == claim["dataset"]]))


def comparable_to_paper(data: ReportData) -> list[str]:
    """Why this profile's feature-prediction numbers are not the paper's setting (empty: comparable)."""
    reasons = []
    if data.profile != "paper":
        reasons.append(f"profile {data.profile} (reduced scale)")
    if "substitute" in data.data_sources.get("loss_networks", []):
        reasons.append("substitute loss network, not ImageNet AlexNet")
    return reasons


def fp_reference_values(claim, data: ReportData, store) -> Verdict:
    rows, verdicts = [], []
    reasons = comparable_to_paper(data)
    for ref in claim["values"]:
        p = data.probes
        p = p[(p["dataset"] == ref["dataset"]) & (p["procedure"] == ref["procedure"])]
        if p.empty:
            continue
        mean, sd = mean_sd(p["value"])
        rows.append(
            f"{ref['procedure']} {ref['dataset']}: {mean:.3f} ± {sd:.3f} (paper {ref['mean']} ± {ref['sd']})"
        )
        tolerance = max(2 * ref["sd"], 0.02 if ref["dataset"] != "lunar_lander" else 0.1 * ref["mean"])
        ok = abs(mean - ref["mean"]) <= tolerance and ref["dataset"] != "lunar_lander"  # unit unknown
        verdicts.append(HOLDS if ok else FAILS)
    if not rows:
        return _none(claim, "no runs of the tabulated procedures")
    if reasons or len(verdicts) < len(claim["values"]):
        why = reasons or ["not every dataset was run"]
        return Verdict(claim, INCONCLUSIVE, "not comparable (" + "; ".join(why) + "): " + "; ".join(rows))
    verdict = FAILS if FAILS in verdicts else HOLDS
    return Verdict(claim, verdict, "; ".join(rows), _ids(data.probes))


def not_run(claim, data: ReportData, store) -> Verdict:
    return Verdict(claim, INCONCLUSIVE, "not run by the suites (see statistic)")


def _ids(frame: pd.DataFrame) -> list[str]:
    return frame["run_id"].astype(str).tolist() if "run_id" in frame else []


EVALUATORS: dict[str, Callable] = {
    f.__name__: f
    for f in (
        fig3_every_comparison,
        fig3_each_average,
        fig4_three_best,
        fig4_eleven_between,
        fig56_instability,
        fp_time_ratio,
        fp_pw_worse,
        fp_ifp_vs_ps,
        fp_ffp_worst,
        fp_reference_values,
        not_run,
    )
}


def evaluate(claims: list[dict], data: ReportData, store, suites: set[str]) -> list[Verdict]:
    return [EVALUATORS[c["kind"]](c, data, store) for c in claims if c["suite"] in suites]
