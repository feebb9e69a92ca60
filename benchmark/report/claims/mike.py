"""The MIKE paper's downstream claims (Figures 3–4), judged with seeds as the unit of evidence.

Every comparison is paired by seed: within one seed, the MIKE encoder and its baseline (or two MIKE
encoders) come from the same teachers and are evaluated on the same tasks. The 11 tasks of one seed are
averaged into one seed-level value wherever a claim is about an average; a claim about every
(encoder, task) comparison tests each one over seeds and corrects for the 121 tests (Holm).
"""

from __future__ import annotations

import pandas as pd

from benchmark.report.claims.common import NO_VALUES, SeedTest, Verdict, ids, judge, no_data
from benchmark.report.data import ReportData, single_teacher
from mike.data.tasks import TASK_CODES
from mike.profiles import get_profile

N_TASKS = len(TASK_CODES)


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
        return no_data(claim, "no single-teacher MIKE and baseline downstream runs")
    found = {
        key: g["diff"].droplevel(["encoder_tasks", "task"])
        for key, g in pairs.groupby(level=["encoder_tasks", "task"])
    }
    # every planned comparison: one that did not run keeps the claim from holding, never makes it fail
    planned = [(enc, task) for enc in TASK_CODES for task in TASK_CODES]
    keys = planned + sorted(k for k in found if k not in planned)
    tests = [SeedTest(f"{enc}→{task}", found.get((enc, task), NO_VALUES)) for enc, task in keys]
    ran = [t for t in tests if len(t.clean)]
    wins = sum(t.clean.mean() > 0 for t in ran)
    note = f"MIKE ahead (mean over seeds) in {wins}/{len(ran)} comparisons"
    return judge(claim, tests, ids(single_teacher(data.downstream)), note=note)


def fig3_each_average(claim, data: ReportData, store) -> Verdict:
    pairs = fig3_pairs(data)
    if pairs.empty:
        return no_data(claim, "no single-teacher MIKE and baseline downstream runs")
    grouped = pairs.groupby(level=["encoder_tasks", "seed"])["diff"]
    # the 11-task average; a seed missing a task has no 11-task average (nan), not a 10-task one
    per_seed = grouped.mean().where(grouped.count() == N_TASKS)
    found = {enc: g.droplevel("encoder_tasks") for enc, g in per_seed.groupby(level="encoder_tasks")}
    encoders = list(TASK_CODES) + sorted(e for e in found if e not in TASK_CODES)
    tests = [SeedTest(f"{enc} average", found.get(enc, NO_VALUES)) for enc in encoders]
    return judge(claim, tests, ids(single_teacher(data.downstream)))


def encoder_values(data: ReportData, kind: str = "MIKE") -> pd.DataFrame:
    """Downstream values of each MIKE encoder (uniform schedule), indexed by (task, seed), one column each."""
    d = data.downstream
    d = d[(d["kind"] == kind) & (d["schedule"] == "uniform")]
    return d.pivot_table(index=["task", "seed"], columns="encoder_tasks", values="value")


def three_column(data: ReportData) -> str:
    """The three-teacher encoder: the profile's choice, or the one a `with suites.three_tasks=` run used."""
    default = "+".join(get_profile(data.profile).suites.three_tasks)
    d = data.downstream
    if d.empty or (d["encoder_tasks"] == default).any():
        return default
    threes = sorted(set(d.loc[d["n_teachers"] == 3, "encoder_tasks"]))
    return threes[0] if threes else default


def eleven_column(table: pd.DataFrame) -> str | None:
    return next((c for c in table.columns if c.count("+") == N_TASKS - 1), None)


def _average_difference(table: pd.DataFrame, a: str, b: str) -> pd.Series:
    """Per seed: the mean over the 11 tasks of a − b (both evaluated on that task in that seed); a seed
    in which either encoder misses a task has no such average (nan)."""
    both = table[[a, b]].dropna()
    grouped = (both[a] - both[b]).groupby(level="seed")
    return grouped.mean().where(grouped.count() == N_TASKS)


def fig4_three_best(claim, data: ReportData, store) -> Verdict:
    table, three = encoder_values(data), three_column(data)
    eleven = eleven_column(table)
    if three not in table:
        return no_data(claim, "missing three-teacher encoder runs")
    # an encoder that did not run keeps the claim from holding; the other comparison may still refute it
    tests = [
        SeedTest("three − CTB", _average_difference(table, three, "CTB") if "CTB" in table else NO_VALUES),
        SeedTest("three − eleven", _average_difference(table, three, eleven) if eleven else NO_VALUES),
    ]
    used = data.downstream[data.downstream["encoder_tasks"].isin([three, "CTB", eleven])]
    return judge(claim, tests, ids(used))


def fig4_eleven_between(claim, data: ReportData, store) -> Verdict:
    table, three = encoder_values(data), three_column(data)
    eleven = eleven_column(table)
    if eleven is None:
        return no_data(claim, "needs the eleven-teacher encoder runs")
    # every planned comparison: an encoder that did not run keeps the claim from holding, never makes it fail
    versus_three = _average_difference(table, eleven, three) if three in table else NO_VALUES
    tests = [SeedTest("eleven − three", versus_three, greater=False)]
    tests += [
        SeedTest(f"eleven − {s}", _average_difference(table, eleven, s) if s in table else NO_VALUES)
        for s in TASK_CODES
    ]
    return judge(claim, tests, ids(data.downstream[data.downstream["kind"] == "MIKE"]))
