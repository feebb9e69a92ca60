"""The feature-prediction paper's comparative claims (Figures 6–8, Sections VIII–IX, Table II's CNN row).

Seed-level values: per seed, the mean over the z values of a procedure's probe metric (or time per epoch),
so the paper's repeats — not its z values — are the replicates. "Better" is higher accuracy or a lower
LunarLander distance; every difference below is signed so that positive favours the first procedure.
"""

from __future__ import annotations

import pandas as pd

from benchmark.report.claims.common import (
    DATASET_NAMES,
    NEEDS_ROOT,
    NO_VALUES,
    SeedTest,
    Verdict,
    ids,
    judge,
    judge_groups,
    missing_datasets,
    missing_text,
    no_data,
)
from benchmark.report.data import ReportData
from mike.featpred.procedure_table import PROCEDURES

EVERY_DATASET = ("lunar_lander", "stl10", "svhn")


def sign(dataset: str) -> int:
    """+1 where higher is better (accuracy), −1 for LunarLander's distance."""
    return -1 if dataset == "lunar_lander" else 1


def seed_means(data: ReportData, dataset: str, procedure: str, column: str = "value") -> pd.Series:
    """Per seed: the mean over z of one procedure's column on one dataset. Every z the dataset ran with
    (any procedure) must be there: a seed missing one has no mean over z (nan), not a mean over two."""
    on = data.probes[data.probes["dataset"] == dataset]
    z_values = set(on["z"].dropna())
    p = on[on["procedure"] == procedure].dropna(subset=[column])
    grouped = p.groupby("seed")
    return grouped[column].mean().where(grouped["z"].apply(lambda z: set(z) >= z_values))


def better(data: ReportData, dataset: str, a: str, b: str) -> pd.Series:
    """Per seed: how much better procedure a is than b (positive: a better), paired by seed."""
    diff = seed_means(data, dataset, a) - seed_means(data, dataset, b)
    return sign(dataset) * diff.dropna()


def _mean(values: pd.Series) -> float:
    """The mean, 0 when there is nothing (a margin that multiplies it then tests nothing away)."""
    return float(values.mean()) if len(values.dropna()) else 0.0


def datasets_run(data: ReportData) -> set[str]:
    return set(data.probes["dataset"]) if not data.probes.empty else set()


def dataset_needed(claim: dict, data: ReportData) -> Verdict | None:
    """Inconclusive, with the reason, when the claim's dataset did not run (its files are not given)."""
    dataset = claim["dataset"]
    if dataset in datasets_run(data):
        return None
    flag = NEEDS_ROOT.get(dataset)
    how = f"; the suite runs it only with {flag} (its files are not on this machine)" if flag else ""
    return no_data(claim, f"no {DATASET_NAMES.get(dataset, dataset)} runs{how}")


def _on(data: ReportData, datasets) -> list[str]:
    return ids(data.probes[data.probes["dataset"].isin(list(datasets))])


def fp_faster(claim, data: ReportData, store) -> Verdict:
    """FP faster than PS: I-F-FP / I-I-PS time per epoch below 1 on each dataset that ran."""
    tests = []
    for dataset in sorted(datasets_run(data)):
        ratio = seed_means(data, dataset, "I-F-FP", "epoch_seconds") / seed_means(
            data, dataset, "I-I-PS", "epoch_seconds"
        )
        tests.append(SeedTest(f"{DATASET_NAMES[dataset]} I-F-FP / I-I-PS", ratio.dropna(), False, 1.0))
    if not tests:
        return no_data(claim, "no I-F-FP and I-I-PS runs")
    return judge(claim, tests, _on(data, datasets_run(data)))


def fp_pw_worse(claim, data: ReportData, store) -> Verdict:
    """Each PW procedure worse than each of the other four (not the mean of means)."""
    if (missing := dataset_needed(claim, data)) is not None:
        return missing
    dataset = claim["dataset"]
    pw = [p for p in PROCEDURES if p.endswith("PW")]
    rest = [p for p in PROCEDURES if not p.endswith("PW")]
    tests = [SeedTest(f"{q} better than {p}", better(data, dataset, q, p)) for p in pw for q in rest]
    return judge(claim, tests, _on(data, [dataset]))


def fp_ifp_vs_ps(claim, data: ReportData, store) -> Verdict:
    """I-F-FP as good as or better than I-I-PS on every dataset: non-inferiority within a margin."""
    tests = []
    for dataset in EVERY_DATASET:  # planned on every dataset: one that did not run has no data
        ps = seed_means(data, dataset, "I-I-PS")
        margin = claim["margin_accuracy"] if sign(dataset) > 0 else claim["margin_distance"] * _mean(ps)
        tests.append(
            SeedTest(
                f"{DATASET_NAMES[dataset]} I-F-FP vs I-I-PS",
                better(data, dataset, "I-F-FP", "I-I-PS"),
                threshold=-margin,
            )
        )
    missing = missing_datasets(datasets_run(data), EVERY_DATASET)
    blocked = missing_text(missing) if missing else ""
    return judge(claim, tests, _on(data, EVERY_DATASET), correct=False, blocked=blocked)


def fp_ffp_below(claim, data: ReportData, store) -> Verdict:
    """F-F-FP worse than at least `at_least` of the other five procedures (5: the worst)."""
    if (missing := dataset_needed(claim, data)) is not None:
        return missing
    dataset = claim["dataset"]
    tests = [
        SeedTest(f"{q} better than F-F-FP", better(data, dataset, q, "F-F-FP"))
        for q in PROCEDURES
        if q != "F-F-FP"
    ]
    return judge(claim, tests, _on(data, [dataset]), need=claim.get("at_least"))


def fp_ordered_levels(claim, data: ReportData, store) -> Verdict:
    """Groups of procedures in order: every member of a group better than every member of the next."""
    if (missing := dataset_needed(claim, data)) is not None:
        return missing
    dataset, levels = claim["dataset"], claim["levels"]
    tests = [
        SeedTest(f"{a} better than {b}", better(data, dataset, a, b))
        for upper, lower in zip(levels, levels[1:], strict=False)
        for a in upper
        for b in lower
    ]
    return judge(claim, tests, _on(data, [dataset]))


def fp_top_two(claim, data: ReportData, store) -> Verdict:
    """I-F-FP among the two fastest and the two best on every dataset: per dataset and criterion, faster
    (better) than at least four of the other five."""
    groups = []
    others = [q for q in PROCEDURES if q != "I-F-FP"]
    for dataset in EVERY_DATASET:  # planned on every dataset: one that did not run has no data
        name = DATASET_NAMES[dataset]
        time = {q: seed_means(data, dataset, q, "epoch_seconds") for q in PROCEDURES}
        faster = [
            SeedTest(f"{name}: {q} time − I-F-FP's", (time[q] - time["I-F-FP"]).dropna()) for q in others
        ]
        best = [
            SeedTest(f"{name}: I-F-FP better than {q}", better(data, dataset, "I-F-FP", q)) for q in others
        ]
        groups += [(f"{name} speed", faster, len(others) - 1), (f"{name} accuracy", best, len(others) - 1)]
    missing = missing_datasets(datasets_run(data), EVERY_DATASET)
    return judge_groups(
        claim, groups, _on(data, EVERY_DATASET), blocked=missing_text(missing) if missing else ""
    )


def fp_fipw_worse_at_two_z(claim, data: ReportData, store) -> Verdict:
    """F-I-PW worse than I-I-PW by more than `threshold` at (at least) two of the three z values."""
    if (missing := dataset_needed(claim, data)) is not None:
        return missing
    dataset = claim["dataset"]
    p = data.probes[data.probes["dataset"] == dataset]
    table = p.pivot_table(index=["z", "seed"], columns="procedure", values="value")
    if not {"F-I-PW", "I-I-PW"} <= set(table.columns):
        return no_data(claim, "needs F-I-PW and I-I-PW runs")
    diff = sign(dataset) * (table["F-I-PW"] - table["I-I-PW"]).dropna()
    need = int(claim.get("at_least", 2))
    if len(set(p["z"].dropna())) < need:
        return no_data(claim, f"a claim about {need} z values; the runs have {len(set(p['z'].dropna()))}")
    by_z = dict(tuple(diff.groupby(level="z")))
    tests = [  # one test per z the dataset ran with: a z missing for these two is a comparison without data
        SeedTest(
            f"z={z}: F-I-PW − I-I-PW",
            by_z[z].droplevel("z") if z in by_z else NO_VALUES,
            greater=False,
            threshold=claim["threshold"],
        )
        for z in sorted(set(p["z"].dropna()))
    ]
    return judge(claim, tests, _on(data, [dataset]), need=need)


def fp_fi_comparable(claim, data: ReportData, store) -> Verdict:
    """F-I-PW ≈ I-I-PW and F-I-PS ≈ I-I-PS on every dataset: both equivalence bounds within a margin."""
    tests = []
    for dataset in EVERY_DATASET:  # planned on every dataset: one that did not run has no data
        for loss in ("PW", "PS"):
            ref = seed_means(data, dataset, f"I-I-{loss}")
            margin = claim["margin_accuracy"] if sign(dataset) > 0 else claim["margin_distance"] * _mean(ref)
            diff = better(data, dataset, f"F-I-{loss}", f"I-I-{loss}")
            name = f"{DATASET_NAMES[dataset]} F-I-{loss} − I-I-{loss}"
            tests += [SeedTest(name, diff, True, -margin), SeedTest(name, diff, False, margin)]
    missing = missing_datasets(datasets_run(data), EVERY_DATASET)
    blocked = missing_text(missing) if missing else ""
    return judge(claim, tests, _on(data, EVERY_DATASET), correct=False, blocked=blocked)


def simple_cnn_beats_all(claim, data: ReportData, store) -> Verdict:
    """The supervised simple CNN better than every procedure (each procedure's mean over z), per seed."""
    if (missing := dataset_needed(claim, data)) is not None:
        return missing
    dataset = claim["dataset"]
    cnn = data.simple_cnn
    cnn = cnn[cnn["dataset"] == dataset].groupby("seed")["value"].mean() if not cnn.empty else pd.Series()
    if cnn.empty:
        return no_data(claim, f"no simple-CNN runs on {DATASET_NAMES[dataset]}")
    tests = [
        SeedTest(f"CNN better than {q}", sign(dataset) * (cnn - seed_means(data, dataset, q)).dropna())
        for q in PROCEDURES
    ]
    run_ids = _on(data, [dataset]) + ids(data.simple_cnn[data.simple_cnn["dataset"] == dataset])
    return judge(claim, tests, run_ids)
