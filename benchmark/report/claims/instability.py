"""Figures 5–6: "convergence became very unstable as loss weights were adjusted for deeper layers".

What the paper plots is each layer's loss against batch; what it means is the loss the optimiser is
working on. Under last-layer progressive that is the loss of the layer currently carrying the weight, so
the training is cut into hand-over segments (the layer active at step s is `active_layer(s - warmup, L,
steps - warmup)`, warm-up steps excluded) and, in each segment, the active layer's loss is measured:

- spikes: the standard deviation of log-loss around its centred rolling median (a monotone curve, however
  steep, has none);
- divergence: how far the smoothed log-loss ends above its lowest point in the segment.

The median's window grows with the segment: a tenth of its logged steps, odd, at least the claim's
`window` (5). A fixed window of 5 made the divergence term the end point and minimum of a barely smoothed
noisy curve: on synthetic curves with log-normal minibatch noise (sd 0.15) and 200 steps per segment, D's
spread between seeds with no instability at all was 0.028 log units with 5 against 0.009 with 21, and
spikes, 8-step bursts and a late rise were each found with 2–17× the signal-to-noise at 21 (tests/
test_claims_attacks.py). At 20–49 steps per segment (`small`, the tests) the window stays 5.

Instability = spikes + divergence (both in log units). The uniform run of the same seed is measured on the
same layer and the same steps, so minibatch noise and the layer's own difficulty cancel. Per seed:
D = mean over segments of (progressive − uniform); E = mean over the deeper half of the segments minus
mean over the shallower half (does it grow with depth?). The drift of layers that no longer carry weight
is not instability and is never measured.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.report.claims.common import INCONCLUSIVE, SeedTest, Verdict, judge, no_data
from benchmark.report.curves import layer_curves
from benchmark.report.data import ReportData
from mike.schedules import active_layer

NONFINITE_INSTABILITY = 10.0  # log units: e^10 above the rolling median
DEFAULT_WINDOW = 5  # the smallest window
DEFAULT_WINDOW_FRACTION = 0.1  # of a segment's logged steps
DEFAULT_MIN_POINTS = 10


def segment_instability(loss: np.ndarray, window: int) -> float:
    """Spikes + divergence of one segment's loss curve, in log units; a loss that turns non-finite (the
    optimisation blew up) scores NONFINITE_INSTABILITY, more than any finite curve here does."""
    if not np.isfinite(loss).all():
        return NONFINITE_INSTABILITY
    log = pd.Series(np.log(np.maximum(loss, 1e-12)))
    smooth = log.rolling(window, center=True).median()
    valid = smooth.notna()
    spikes = float((log[valid] - smooth[valid]).std(ddof=0))
    trend = smooth[valid].to_numpy()
    divergence = float(trend[-1] - trend.min()) if len(trend) else 0.0
    return spikes + divergence


def window_for(points: int, minimum: int = DEFAULT_WINDOW, fraction: float = DEFAULT_WINDOW_FRACTION) -> int:
    """The rolling median's window for a segment of `points` logged steps: odd (centred), ≥ minimum."""
    scaled = int(points * fraction)
    return max(minimum, scaled + 1 - scaled % 2)


def segments(steps: np.ndarray, layers: int, total_steps: int, warmup: int) -> dict[int, np.ndarray]:
    """The logged steps at which each layer carries the weight (warm-up excluded)."""
    transfer = max(total_steps - warmup, 1)
    after = steps[steps >= warmup]
    active = np.array([active_layer(int(s) - warmup, layers, transfer) for s in after], dtype=int)
    return {k: after[active == k] for k in range(layers)}


def seed_contrast(
    progressive: pd.DataFrame,
    uniform: pd.DataFrame,
    total_steps: int,
    warmup: int,
    window: int,
    fraction: float = DEFAULT_WINDOW_FRACTION,
) -> tuple[float, float, int]:
    """(D, E, fewest points in a segment) for one seed's progressive and uniform per-layer curves; each
    segment is smoothed with window_for(its points, window, fraction)."""
    names = sorted(progressive["layer"].unique())
    # dropna=False: a step whose loss is nan (a diverged run) stays in the curve and counts as unstable
    prog = progressive.pivot_table(index="step", columns="layer", values="loss", dropna=False)
    uni = uniform.pivot_table(index="step", columns="layer", values="loss", dropna=False)
    steps = np.intersect1d(prog.index.to_numpy(), uni.index.to_numpy())
    deltas, fewest = [], None
    for k, steps_k in segments(steps, len(names), total_steps, warmup).items():
        layer = names[k]
        if layer not in uni:
            continue
        fewest = len(steps_k) if fewest is None else min(fewest, len(steps_k))
        if len(steps_k) < window:
            continue
        w = window_for(len(steps_k), window, fraction)
        p = segment_instability(prog.loc[steps_k, layer].to_numpy(), w)
        u = segment_instability(uni.loc[steps_k, layer].to_numpy(), w)
        deltas.append(p - u)
    if not deltas:
        return np.nan, np.nan, fewest or 0
    half = len(deltas) // 2
    deeper_minus_shallower = float(np.mean(deltas[half:]) - np.mean(deltas[:half])) if half else np.nan
    return float(np.mean(deltas)), deeper_minus_shallower, fewest or 0


def _zero(value) -> float:
    return 0.0 if pd.isna(value) else float(value)


def _twin(t: pd.DataFrame, prog: pd.Series) -> pd.Series | None:
    """The uniform run of the same task, seed, length, warm-up and autoencoder as a progressive run."""
    task = prog["tasks"][0]
    same = t[(t["schedule"] == "uniform") & (t["seed"] == prog["seed"])]
    same = same[same["tasks"].map(lambda ts, k=task: list(ts) == [k])]
    same = same[same["steps"].eq(prog["steps"])]
    same = same[same["warmup_steps"].map(_zero).eq(_zero(prog["warmup_steps"]))]
    for column in ("embedding_channels", "decoder_variant"):  # Section 5's variants compare like with like
        if column in same:
            same = same[same[column] == prog[column]]
    return None if same.empty else same.iloc[0]


def contrasts(t: pd.DataFrame, store, window: int, fraction: float = DEFAULT_WINDOW_FRACTION) -> list[dict]:
    """Per single-teacher progressive run with a uniform twin: its seed, D, E, the fewest points in a
    segment and both run ids (rows of `t`, a transfer frame, keep their other columns under 'row')."""
    t = t[t["tasks"].map(len) == 1] if not t.empty else t
    out = []
    for _, prog in (t[t["schedule"] == "progressive"] if not t.empty else t).iterrows():
        uni = _twin(t, prog)
        if uni is None:
            continue
        task = prog["tasks"][0]
        curves_p = layer_curves(store, prog["run_id"], task)
        curves_u = layer_curves(store, uni["run_id"], task)
        if curves_p.empty or curves_u.empty:
            continue
        warmup = 0 if pd.isna(prog.get("warmup_steps")) else int(prog["warmup_steps"])
        total = int(prog["steps"]) if not pd.isna(prog.get("steps")) else int(curves_p["step"].max()) + 1
        d, e, points = seed_contrast(curves_p, curves_u, total, warmup, window, fraction)
        out.append(
            {
                "seed": prog["seed"],
                "d": d,
                "e": e,
                "points": points,
                "row": prog,
                "ids": [prog["run_id"], uni["run_id"]],
            }
        )
    return out


def fig56_instability(claim, data: ReportData, store) -> Verdict:
    """Progressive against the uniform run of the same task, seed, length and warm-up."""
    t = data.transfer
    if t.empty or not (t["schedule"] == "progressive").any():
        return no_data(claim, "no last-layer progressive transfer runs")
    window = int(claim.get("window", DEFAULT_WINDOW))
    fraction = float(claim.get("window_fraction", DEFAULT_WINDOW_FRACTION))
    min_points = int(claim.get("min_points_per_segment", DEFAULT_MIN_POINTS))
    found = contrasts(t, store, window, fraction)
    if not found:
        return no_data(claim, "no uniform run (same task and seed) to compare with")
    ids = [i for c in found for i in c["ids"]]
    kept = [c for c in found if c["points"] >= min_points]
    if not kept:
        fewest = min(c["points"] for c in found)
        return Verdict(
            claim,
            INCONCLUSIVE,
            f"inconclusive: too few logged steps per layer segment ({fewest} < {min_points}); "
            "train longer or log more steps",
            ids,
            0,
        )
    d_by_seed = {c["seed"]: c["d"] for c in kept}
    e_by_seed = {c["seed"]: c["e"] for c in kept}
    tests = [
        SeedTest(
            "instability, progressive − uniform (log units)",
            pd.Series(d_by_seed),
            threshold=float(claim.get("margin", 0.05)),
        ),
        SeedTest("deeper − shallower segments", pd.Series(e_by_seed)),
    ]
    fewest = min(c["points"] for c in found)
    note = (
        f"{len(d_by_seed)} seeds; fewest points in a segment {fewest}, "
        f"median window {window_for(fewest, window, fraction)}"
    )
    return judge(claim, tests, ids, note=note)
