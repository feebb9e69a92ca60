"""Claims of MIKE's Section 5 (its hypotheses, as the paper words them), judged like the paper's own.

bottleneck: "this instability is exacerbated by the dimensionality-reduction induced information
bottleneck": per seed, the slope of the Figures 5–6 instability measure D (progressive − uniform, log
units) against log2 of the embedding's channels; the hypothesis says it is negative. It explains an
instability, so it is judged only where the 2-channel embedding shows one (D significantly above 0).
decoder: "the optimal decoder should mirror the structure of the downstream network(s)": per seed, the
mirror's 11-task average (fresh mirrored downstream network) minus each other variant's; and "a
high-capacity decoder ... may potentially absorb knowledge": per seed, how much more a retrained
transferred decoder gets than a fresh one (finetune − fresh), larger for each higher-capacity decoder
than for the mirror.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.report.claims.common import NO_VALUES, SeedTest, Verdict, ids, judge, no_data
from benchmark.report.claims.instability import (
    DEFAULT_MIN_POINTS,
    DEFAULT_WINDOW,
    DEFAULT_WINDOW_FRACTION,
    contrasts,
)
from benchmark.report.data import ReportData
from benchmark.report.stats import ALPHA, one_sided_p
from benchmark.report.variants import decoder_variant, of_study
from mike.data.tasks import TASK_CODES
from mike.profiles import get_profile
from suites.plan import autoencoder_model
from suites.section5_suites import decoder_variants

N_TASKS = len(TASK_CODES)


def bottleneck_contrasts(
    data: ReportData, store, window: int, min_points: int, fraction: float = DEFAULT_WINDOW_FRACTION
) -> pd.DataFrame:
    """D per (seed, embedding channels) on the progressive task, mirrored decoders only."""
    t = data.section5_transfer
    if t.empty:
        return pd.DataFrame(columns=["seed", "channels", "d", "points", "ids"])
    task = get_profile(data.profile).suites.progressive_task
    t = t[(t["decoder_variant"] == "mirror") & t["tasks"].map(lambda ts: list(ts) == [task])]
    rows = [
        {
            "seed": c["seed"],
            "channels": int(c["row"]["embedding_channels"]),
            "d": c["d"],
            "points": c["points"],
            "ids": c["ids"],
        }
        for c in contrasts(t, store, window, fraction)
    ]
    frame = pd.DataFrame(rows, columns=["seed", "channels", "d", "points", "ids"])
    return frame[frame["points"] >= min_points]


def _slope(g: pd.DataFrame) -> float:
    """Least-squares slope of D against log2(channels): log units per doubling of the embedding."""
    x, y = np.log2(g["channels"].to_numpy(float)), g["d"].to_numpy(float)
    return float(np.polyfit(x, y, 1)[0]) if len(set(x)) >= 2 and np.isfinite(y).all() else np.nan


def s5_bottleneck_instability(claim, data: ReportData, store) -> Verdict:
    found = bottleneck_contrasts(
        data,
        store,
        int(claim.get("window", DEFAULT_WINDOW)),
        int(claim.get("min_points_per_segment", DEFAULT_MIN_POINTS)),
        float(claim.get("window_fraction", DEFAULT_WINDOW_FRACTION)),
    )
    if found["channels"].nunique() < 2:
        return no_data(
            claim,
            "needs progressive and uniform runs at two or more embedding sizes, each "
            "with enough logged steps per layer segment",
        )
    sizes = sorted(found["channels"].unique())
    slopes = found.groupby("seed").apply(_slope, include_groups=False)
    at_paper = found[found["channels"] == 2].set_index("seed")["d"]
    blocked = ""
    if len(at_paper) and one_sided_p(at_paper.to_numpy(float), 0.0, True) >= ALPHA:
        blocked = (
            f"the instability it would explain is not shown at the paper's 2 channels: D = "
            f"{at_paper.mean():.3g} over {len(at_paper)} seeds, not significantly above 0"
        )
    elif not len(at_paper):
        blocked = "no runs at the paper's 2-channel embedding to show the instability it would explain"
    tests = [SeedTest("slope of D per doubling of the embedding (log units)", slopes, greater=False)]
    note = "sizes " + ", ".join(f"{c}×8×8: D {found[found['channels'] == c]['d'].mean():.3g}" for c in sizes)
    run_ids = [i for row in found["ids"] for i in row]
    return judge(claim, tests, run_ids, note=note, blocked=blocked)


def decoder_averages(data: ReportData) -> pd.DataFrame:
    """11-task average normalised IoU per (seed, decoder variant, downstream decoder mode) of the decoder
    study (its MIKE encoders from the progressive task's teacher); a seed missing a task: nan. Runs of one
    task are averaged first, so that two of one task never stand in for a missing one."""
    d = of_study(data.section5_downstream, "decoder")
    if d.empty:
        return pd.DataFrame()
    per_task = d.groupby(["seed", "decoder_variant", "decoder", "task"])["value"].mean()
    g = per_task.groupby(level=["seed", "decoder_variant", "decoder"])
    return g.mean().where(g.count() == N_TASKS).unstack(["decoder_variant", "decoder"])


def planned_variants(profile: str) -> list[str]:
    """The decoder variants the profile's decoder suite trains (as `decoder_variant` names them)."""
    p = get_profile(profile)
    models = [autoencoder_model(p, decoder_factor=f, decoder_blocks=b) for f, b in decoder_variants(p)]
    return list(dict.fromkeys(decoder_variant(m) for m in models))


def _column(table: pd.DataFrame, variant: str, mode: str) -> pd.Series:
    """One variant's 11-task averages per seed; none (a planned arm that did not run): an empty series."""
    return table[(variant, mode)] if (variant, mode) in table else NO_VALUES


def _variants(data: ReportData, table: pd.DataFrame) -> list[str]:
    """Every variant but the mirror: the profile's planned ones (one that crashed still counts, without
    data: it keeps the claim from holding) and any other the store holds."""
    stored = [v for v, _ in table.columns]
    return [v for v in dict.fromkeys([*planned_variants(data.profile), *stored]) if v != "mirror"]


def capacity(variant: str, mirror_widths) -> tuple[float, int]:
    """A decoder variant's (width relative to the mirror's, added blocks), from its description."""
    factor, blocks = 1.0, 0
    for part in variant.split(", "):
        if part.startswith("widths "):
            factor = sum(int(w) for w in part[len("widths ") :].split("-")) / sum(mirror_widths)
        elif part.startswith("+"):
            blocks = int(part[1:].split()[0])
    return factor, blocks


def higher_capacity(data: ReportData, variants: list[str]) -> list[str]:
    """Variants with more capacity than the mirror: wider, or as wide and deeper."""
    mirror = get_profile(data.profile).autoencoder_widths
    return [v for v in variants if capacity(v, mirror) > (1.0, 0) and capacity(v, mirror)[0] >= 1.0]


def s5_decoder_mirror_best(claim, data: ReportData, store) -> Verdict:
    table = decoder_averages(data)
    if table.empty or ("mirror", "fresh") not in table:
        return no_data(claim, "no decoder-study runs with the mirrored decoder")
    others = _variants(data, table)
    if not others:
        return no_data(claim, "no decoder variant besides the mirror")
    mirror = table[("mirror", "fresh")]
    tests = [SeedTest(f"mirror − {v}", mirror - _column(table, v, "fresh")) for v in others]
    return judge(claim, tests, ids(of_study(data.section5_downstream, "decoder")))


def s5_decoder_absorbs(claim, data: ReportData, store) -> Verdict:
    table = decoder_averages(data)
    needed = [("mirror", "fresh"), ("mirror", "finetune")]
    if table.empty or any(c not in table for c in needed):
        return no_data(claim, "needs the mirrored decoder's fresh and finetune downstream runs")
    mirror = get_profile(data.profile).autoencoder_widths
    larger = higher_capacity(data, sorted(_variants(data, table), key=lambda v: capacity(v, mirror)))
    if not larger:
        return no_data(claim, "no higher-capacity decoder variant")
    gap = {v: _column(table, v, "finetune") - _column(table, v, "fresh") for v in ["mirror", *larger]}
    tests = [SeedTest(f"gap({v}) − gap(mirror)", gap[v] - gap["mirror"]) for v in larger]
    note = "gap = finetune − fresh, 11-task average: " + ", ".join(
        f"{v} {gap[v].mean():.3g}" if gap[v].notna().any() else f"{v} no data" for v in ["mirror", *larger]
    )
    return judge(claim, tests, ids(of_study(data.section5_downstream, "decoder")), note=note)
