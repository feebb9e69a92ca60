"""Sequential knowledge transfer (MIKE Section 5): "catastrophic forgetting will likely become a
challenge. Methods such as elastic weight consolidation could mitigate this."

R[k, j]: the downstream normalised IoU on task j of the encoder after step k of the sequence. A task's
forgetting is R[j, j] − R[T−1, j] (right after its teacher, against the end); a seed's forgetting F is its
mean over the tasks before the last (Chaudhry et al.'s average forgetting with the value right after
learning in place of the running maximum, which a noisy R would inflate).

EWC is tried at several λ (the paper names none): the claim holds when some λ significantly reduces
forgetting (Holm over the grid). A λ so stiff that the encoder stops learning the later teachers forgets
nothing because it learns nothing: a λ whose learning (mean of R[j, j]) falls more than `max_learning_loss`
below naive's is set aside, and named.
"""

from __future__ import annotations

import pandas as pd

from benchmark.report.claims.common import NO_VALUES, SeedTest, Verdict, ids, judge, no_data
from benchmark.report.data import ReportData
from mike.profiles import get_profile


def studied_sequence(data: ReportData) -> list[str]:
    """The sequence the report judges: the profile's, when the store holds its runs; else the sequence
    with the most downstream runs (one run with an overridden `section5.sequential_tasks`). Runs of
    different sequences never mix: their steps hold different teachers."""
    default = list(get_profile(data.profile).section5.sequential_tasks)
    d = data.section5_downstream
    if d.empty or "encoder_sequence" not in d:
        return default
    counts = d.loc[d["kind"] == "sequential", "encoder_sequence"].value_counts()
    if counts.empty or "+".join(default) in counts.index:
        return default
    return str(counts.index[0]).split("+")


def forgetting_matrices(data: ReportData) -> pd.DataFrame:
    """Rows of the studied sequence's downstream runs: seed, variant ('naive' / 'EWC'), step, task, value."""
    d = data.section5_downstream
    if d.empty or "kind" not in d:
        return pd.DataFrame(columns=["seed", "variant", "step", "task", "value", "run_id"])
    d = d[(d["kind"] == "sequential") & (d["encoder_sequence"] == "+".join(studied_sequence(data)))]
    variant = d["ewc_lambda"].fillna(0).map(variant_name)
    return d.assign(variant=variant, step=d["encoder_step"].astype(int))[
        ["seed", "variant", "step", "task", "value", "run_id"]
    ]


def variant_name(ewc_lambda: float) -> str:
    return f"EWC λ={ewc_lambda:g}" if ewc_lambda > 0 else "naive"


def learning(rows: pd.DataFrame, sequence: list[str]) -> pd.Series:
    """Per seed: mean over the sequence's tasks of R[j, j], the value right after each task's teacher."""
    out = {}
    for seed, g in rows.groupby("seed"):
        r = _cells(g)
        out[seed] = pd.Series([r.get((j, t), float("nan")) for j, t in enumerate(sequence)]).mean(
            skipna=False
        )
    return pd.Series(out, dtype=float)


def _cells(g: pd.DataFrame) -> pd.Series:
    """R[step, task] of one seed's chain: runs of one cell (e.g. chains of two configs, or a rerun with
    other options) are averaged, as Figure 3's cells are, never a second value beside the first."""
    return g.groupby(["step", "task"])["value"].mean()


def forgetting(rows: pd.DataFrame, sequence: list[str]) -> pd.Series:
    """Per seed: mean over the sequence's tasks but the last of R[j, j] − R[T−1, j] (nan when incomplete)."""
    last = len(sequence) - 1
    out = {}
    for seed, g in rows.groupby("seed"):
        r = _cells(g)
        drops = [
            r.get((j, task), float("nan")) - r.get((last, task), float("nan"))
            for j, task in enumerate(sequence[:-1])
        ]
        out[seed] = pd.Series(drops).mean(skipna=False)
    return pd.Series(out, dtype=float)


def _by_variant(data: ReportData) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, list[str]]:
    rows = forgetting_matrices(data)
    return dict(list(rows.groupby("variant"))), rows, studied_sequence(data)


def s5_sequential_forgets(claim, data: ReportData, store) -> Verdict:
    found, rows, sequence = _by_variant(data)
    if "naive" not in found:
        return no_data(claim, "no naive sequential-transfer downstream runs")
    naive = forgetting(found["naive"], sequence)
    return judge(claim, [SeedTest("forgetting, naive sequential", naive)], ids(rows))


def s5_ewc_mitigates(claim, data: ReportData, store) -> Verdict:
    found, rows, sequence = _by_variant(data)
    if "naive" not in found or len(found) < 2:
        return no_data(claim, "needs naive and EWC sequential-transfer downstream runs")
    # every λ of the profile's grid: one whose chain did not run keeps "fails" away (it might be the one
    # that mitigates), and any other λ the store holds
    planned = [variant_name(lam) for lam in get_profile(data.profile).section5.ewc_lambdas]
    ewc = sorted({*planned, *found} - {"naive"}, key=lambda v: float(v.split("=")[1]))
    naive_f, naive_l = forgetting(found["naive"], sequence), learning(found["naive"], sequence)
    margin = float(claim.get("max_learning_loss", 0.05))
    tests, stiff, parts = [], [], []
    for v in ewc:
        name = f"forgetting, naive − {v}"
        if v not in found:
            parts.append(f"{v}: no runs")
            tests.append(SeedTest(name, NO_VALUES))
            continue
        f, lost = forgetting(found[v], sequence), (naive_l - learning(found[v], sequence)).mean()
        parts.append(f"{v}: forgetting {f.mean():.3g}, learning {lost:+.3g} below naive")
        if lost > margin:
            stiff.append(v)
        else:
            tests.append(SeedTest(name, naive_f - f))
    note = f"naive forgetting {naive_f.mean():.3g}; " + "; ".join(parts)
    if stiff:
        note += f"; set aside as too stiff to learn (learning > {margin:g} below naive): {', '.join(stiff)}"
    if not any(len(t.clean) for t in tests):
        why = "every λ that ran kept the encoder from learning the later teachers" if stiff else "no EWC data"
        return no_data(claim, f"{why} ({note})")
    return judge(claim, tests, ids(rows), need=1, note=note)
