"""A hostile review of the claim verdicts: generated runs built to make each rule say something the data does
not. "Was a bug": the attack broke the rule before its fix (the docstring says what the data truly shows);
the others are attacks the rules survived. All are kept as regression tests."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.report.claims import evaluate, load_claims
from benchmark.report.claims.common import SeedTest, judge
from benchmark.report.claims.instability import DEFAULT_WINDOW, seed_contrast, window_for
from benchmark.report.data import load, restrict
from benchmark.report.settings import enumerate_settings
from mike.data.tasks import TASK_CODES
from tests.run_documents import (
    LAYERS,
    TRAIN,
    convergence_runs,
    encoder_runs,
    figure3_runs,
    fp_runs,
    noise,
    progressive_runs,
    served,
)
from tests.test_section5 import EVEN, _decoder_runs
from tests.test_sequential import _sequential_runs

SEEDS = (0, 1, 2)
MIKE_SEEDS = (0, 1, 2, 3)
LL, STL, SVHN = "lunar_lander", "stl10", "svhn"
ELEVEN = "+".join(TASK_CODES)


@pytest.fixture(scope="module")
def gs(tmp_path_factory):
    with served(tmp_path_factory.mktemp("attacks")) as store:
        yield store


def _claim(claim_id):
    return next(c for c in load_claims() if c["id"] == claim_id)


def _mark_failed(gs, query):
    """Runs that crashed (or are still running): stored, but not COMPLETED."""
    gs.flush()
    assert gs.db.runs.update_many(
        {"status": "COMPLETED", **query}, {"$set": {"status": "FAILED"}}
    ).modified_count


def _duplicate(gs, query, times):
    """Each matching run stored `times` more times under the same config hash (e.g. two workers raced)."""
    gs.flush()
    docs = list(gs.db.runs.find({"status": "COMPLETED", **query}))
    assert docs
    copies = []
    for _ in range(times):
        for doc in docs:
            gs.next_id += 1
            copies.append({**doc, "_id": gs.next_id})
    gs.db.runs.insert_many(copies)


def _drop_duplicate_hashes(gs):
    """Keep the first COMPLETED run of each config hash, as the executor would have reused it."""
    gs.flush()
    seen = set()
    for doc in gs.db.runs.find({}, {"meta.config_hash": 1}, sort=[("_id", 1)]):
        key = doc["meta"]["config_hash"]
        if key in seen:
            gs.db.runs.delete_one({"_id": doc["_id"]})
        seen.add(key)


# ---- missing data: a comparison with no runs is dropped, not counted ---------------------------------------


def test_missing_procedure_makes_an_at_least_claim_fail(gs):
    """Was a bug. fp-svhn-ffp-worst needs all 5 comparisons (at_least = 5). I-I-PW's SVHN probes are missing
    (crashed, or not run yet); the other four are all far above F-F-FP. judge_groups drops the empty
    comparison, keeps need = 5 over 4 tests, and `k_reversed > len(g) - need` is `0 > -1`: "fails"
    whatever the numbers."""
    fp_runs(gs.reset(), "small", SEEDS)
    _mark_failed(gs, {"config.stage": "probe", "config.procedure": "I-I-PW", "config.data.dataset": SVHN})
    verdict = gs.verdict("fp-svhn-ffp-worst")
    assert verdict.verdict == "inconclusive", (verdict.verdict, verdict.measured)


def test_one_z_ran_makes_the_two_z_claim_fail(gs):
    """Was a bug. fp-svhn-fipw-two-z (at_least = 2 of 3 z). Only z = 64 of F-I-PW ran so far, and there
    it is 10 points worse than I-I-PW (what the claim says). One test, need 2: "fails" — with no data
    against it."""
    fp_runs(gs.reset(), "small", SEEDS, levels={(SVHN, "F-I-PW"): {64: 0.72, 128: 0.82, 256: 0.82}})
    _mark_failed(
        gs,
        {
            "config.stage": "probe",
            "config.procedure": "F-I-PW",
            "config.data.dataset": SVHN,
            "config.z": {"$ne": 64},
        },
    )
    verdict = gs.verdict("fp-svhn-fipw-two-z")
    assert verdict.verdict == "inconclusive", (verdict.verdict, verdict.measured)


def test_missing_pw_procedure_does_not_hold_the_pw_claim(gs):
    """Was a bug. fp-lunar-pw-worst is about both PW procedures (8 comparisons). F-I-PW never ran on
    LunarLander: its 4 comparisons are dropped and the claim "holds" on I-I-PW alone."""
    fp_runs(gs.reset(), "small", SEEDS)
    _mark_failed(gs, {"config.stage": "probe", "config.procedure": "F-I-PW", "config.data.dataset": LL})
    verdict = gs.verdict("fp-lunar-pw-worst")
    assert verdict.verdict == "inconclusive", (verdict.verdict, verdict.measured)


def test_every_dataset_claim_with_a_dataset_missing_its_arm(gs):
    """Was a bug. fp-ifp-as-good-as-ps "on every dataset". SVHN has probes (so it counts as run), but no
    I-F-FP probe completed there: the SVHN comparison is silently dropped and the claim holds on two
    datasets."""
    fp_runs(gs.reset(), "small", SEEDS)
    _mark_failed(gs, {"config.stage": "probe", "config.procedure": "I-F-FP", "config.data.dataset": SVHN})
    verdict = gs.verdict("fp-ifp-as-good-as-ps")
    assert verdict.verdict == "inconclusive", (verdict.verdict, verdict.measured)


@pytest.mark.parametrize("claim", ["fp-ifp-as-good-as-ps", "fp-ifp-top-two", "fp-fi-comparable"])
def test_a_setting_that_ran_one_dataset_is_not_judged_on_every_dataset(gs, claim):
    """Was a bug. The substitute loss network ran on all three datasets, ImageNet AlexNet on LunarLander only.
    I-I-PW uses no loss network, so its STL-10 and SVHN rows belong to the ImageNet setting too: the
    datasets count as "run" there, their comparisons (no I-F-FP / F-I-* rows) are dropped, and the
    "every dataset" claim is judged on LunarLander alone."""
    fp_runs(gs.reset(), "small", SEEDS, source="substitute")
    fp_runs(gs, "small", SEEDS, datasets=[LL], source="imagenet")
    _drop_duplicate_hashes(gs)
    store = gs.flush()
    data = load(store, "small")  # the settings as split_by_setting finds them (without describing them)
    parts = [restrict(data, s) for s in enumerate_settings(data.rows("feature prediction"))]
    (imagenet,) = [p for p in parts if p.data_sources["loss_networks"] == ["imagenet"]]
    assert set(imagenet.probes.loc[imagenet.probes["procedure"] == "I-F-FP", "dataset"]) == {LL}
    (verdict,) = evaluate([_claim(claim)], imagenet, store, {"losses"})
    assert verdict.verdict == "inconclusive", (verdict.verdict, verdict.measured)
    assert "no data for" in verdict.measured and "STL-10" in verdict.measured and "SVHN" in verdict.measured


def test_an_average_over_the_tasks_that_ran_is_not_the_11_task_average(gs):
    """Was a bug. mike-fig3-each-average. PHB's MIKE encoder is +0.05 on 10 tasks and −0.8 on task 5: its
    11-task average is −0.027 (the claim fails). Task 5's MIKE downstream runs crashed: the "11-task"
    average is taken over the 10 that remain (+0.05) and the claim holds."""

    def diff(e, t, s):
        return -0.8 if (e, t) == (0, 5) else 0.05 + noise(0.002, e, t, s)

    figure3_runs(gs.reset(), "small", MIKE_SEEDS, diff)
    assert gs.verdict("mike-fig3-each-average").verdict == "fails"  # the truth, with every task
    phb = [
        d["meta"]["config_hash"]
        for d in gs.db.runs.find({"config.stage": "transfer", "config.tasks": ["PHB"]})
    ]
    _mark_failed(
        gs, {"config.stage": "downstream", "config.encoder": {"$in": phb}, "config.task": TASK_CODES[5]}
    )
    verdict = gs.verdict("mike-fig3-each-average")
    assert verdict.verdict != "holds", (verdict.verdict, verdict.measured)


def test_a_missing_z_is_not_averaged_over_the_other_two(gs):
    """Was a bug. fp-svhn-ffp-worst. Accuracy rises with z for every procedure (+0.3 from z = 64 to 128/256),
    and F-F-FP is 0.05 below every other procedure at every z: the claim is true. F-F-FP's z = 64 probes are
    missing; its mean over z = 128, 256 is compared with the others' mean over all three z and F-F-FP looks
    the best: "fails"."""
    levels = {
        (SVHN, p): {64: base - 0.3, 128: base, 256: base}
        for p, base in {
            "I-I-PW": 0.85,
            "I-I-PS": 0.85,
            "F-I-PW": 0.85,
            "F-I-PS": 0.85,
            "I-F-FP": 0.85,
        }.items()
    }
    levels[(SVHN, "F-F-FP")] = {64: 0.50, 128: 0.80, 256: 0.80}
    fp_runs(gs.reset(), "small", SEEDS, datasets=[SVHN], levels=levels)
    assert gs.verdict("fp-svhn-ffp-worst").verdict == "holds"  # the truth, with every z
    _mark_failed(gs, {"config.stage": "probe", "config.procedure": "F-F-FP", "config.z": 64})
    verdict = gs.verdict("fp-svhn-ffp-worst")
    assert verdict.verdict != "fails", (verdict.verdict, verdict.measured)


def test_duplicate_runs_of_one_config_do_not_reweight_the_z_values(gs):
    """Was a bug. fp-ifp-as-good-as-ps. On SVHN I-F-FP is 0.79 / 0.79 / 0.90 at z = 64 / 128 / 256: mean
    0.827, 0.043 below I-I-PS (margin 0.02: fails). The z = 256 probe is stored 4 more times under the
    same config hash (e.g. two workers raced); the seed "mean over z" counts it 5 times and the claim
    holds."""
    levels = {(SVHN, "I-F-FP"): {64: 0.79, 128: 0.79, 256: 0.90}}
    fp_runs(gs.reset(), "small", SEEDS, levels=levels)
    assert gs.verdict("fp-ifp-as-good-as-ps").verdict == "fails"  # the truth
    _duplicate(
        gs,
        {"config.stage": "probe", "config.procedure": "I-F-FP", "config.z": 256, "config.data.dataset": SVHN},
        4,
    )
    verdict = gs.verdict("fp-ifp-as-good-as-ps")
    assert verdict.verdict == "fails", (verdict.verdict, verdict.measured)


# ---- smallest_effect: "holds" wins over "negligible" -------------------------------------------------------


def test_a_speed_up_within_the_smallest_effect_is_no_speed_up(gs):
    """Was a bug. fp-faster: claims.toml says "a time ratio within 5% of 1 is no speed-up". I-F-FP takes 0.98
    of I-I-PS's time on every dataset, measured precisely: significantly below 1 *and* significantly above
    0.95. judge_groups checks `holds` before `fails`, so the verdict is "holds"."""
    seconds = {(d, "I-F-FP"): 9.8 for d in (LL, STL, SVHN)} | {(d, "I-I-PS"): 10 for d in (LL, STL, SVHN)}
    fp_runs(gs.reset(), "small", SEEDS, seconds=seconds)
    verdict = gs.verdict("fp-faster")
    assert verdict.verdict == "fails", (verdict.verdict, verdict.measured)


def test_a_negligible_average_advantage_is_not_a_win(gs):
    """Was a bug. mike-fig3-each-average, smallest_effect 0.02: every encoder is ahead by 0.005 (a quarter of
    the smallest effect that matters), measured precisely. Significantly above 0 and significantly below
    0.02: "holds" wins."""
    figure3_runs(gs.reset(), "small", MIKE_SEEDS, lambda e, t, s: 0.005 + noise(0.001, e, t, s))
    verdict = gs.verdict("mike-fig3-each-average")
    assert "11 negligible or against" in verdict.measured
    assert verdict.verdict == "fails", (verdict.verdict, verdict.measured)


# ---- Holm on the claimed side of an all-of claim -----------------------------------------------------------


def test_holm_is_not_needed_when_every_comparison_must_hold(gs):
    """Was a bug (power). mike-fig4-three-best needs both differences positive: an intersection of
    alternatives, which an intersection-union test rejects at α without correction (as the TOST claims
    already do). Both one-sided p are ≈ 0.03: each is significant, Holm over 2 needs the smaller below
    0.025, and the claim stays inconclusive."""
    d = {0: 0.05, 1: 0.01, 2: 0.09, 3: 0.04}  # three minus CTB and three minus eleven, per seed
    p = stats.ttest_1samp(list(d.values()), 0, alternative="greater").pvalue
    assert 0.025 < p < 0.05
    gs.reset()
    for seed, delta in d.items():
        encoder_runs(gs, "small", [seed], {"CTB": 0.6, "PHB+DCH+CTB": 0.6 + delta, ELEVEN: 0.6})
    verdict = gs.verdict("mike-fig4-three-best")
    assert "2/2 significant as claimed" in verdict.measured and "intersection-union" in verdict.method
    assert verdict.verdict == "holds", (verdict.verdict, verdict.measured)


# ---- Figures 5–6: instability ------------------------------------------------------------------------------

STEPS = 360
SEG = STEPS // len(LAYERS)


def _mult_noise(seed, k, x, schedule, sd=0.02):
    return np.exp(np.random.default_rng([seed, k, len(schedule)]).normal(0, sd, len(x)))


def _uniform(seed, k, x):
    return (0.2 + 0.8 * np.exp(-x / 100)) * _mult_noise(seed, k, x, "uniform")


def _progressive_shape(k, x, seg=SEG, drop=4.0, drift=50.0):
    """The active layer drops smoothly in its segment; finished layers drift back up."""
    start, end = k * seg, (k + 1) * seg
    inside = 0.2 + 0.8 * np.exp(-(x - start) / drop)
    after = 0.2 + 0.6 * (1 - np.exp(-(x - end) / drift))
    return np.where(x < start, 1.0, np.where(x < end, inside, after))


def bursty(schedule, seed, k, x):
    """Very unstable, growing with depth: in its segment the active layer's loss jumps to (1 + 0.3k)× for
    4 steps, twice. Spikes of 1–2 steps would be found; 3 or more are the rolling median's own trend."""
    if schedule == "uniform":
        return _uniform(seed, k, x)
    offset = x - k * SEG
    burst = ((offset >= 5) & (offset < 9)) | ((offset >= 11) & (offset < 15))
    return _progressive_shape(k, x) * np.where(burst, 1 + 0.3 * k, 1.0) * _mult_noise(seed, k, x, schedule)


def blows_up(schedule, seed, k, x):
    """Smooth until the weight reaches layer 10; there the loss explodes and every layer's loss is NaN."""
    if schedule == "uniform":
        return _uniform(seed, k, x)
    loss = _progressive_shape(k, x) * _mult_noise(seed, k, x, schedule)
    start = 10 * SEG + 3 + seed
    loss = np.where(x >= start, loss * 10.0 ** np.minimum(x - start + 1, 6), loss)
    return np.where(x >= start + 5, np.nan, loss)


def noisier_with_depth(schedule, seed, k, x):
    """Minibatch noise only: the progressive run's log-noise grows from 0.02 to 0.03 with depth."""
    if schedule == "uniform":
        return _uniform(seed, k, x)
    return (0.2 + 0.8 * np.exp(-x / 100)) * _mult_noise(seed, k, x, schedule, 0.02 + 0.01 * k / 17)


def shallow_spikes(schedule, seed, k, x):
    """1-step spikes in the active layer, large at the shallow layers, none at the deep ones."""
    if schedule == "uniform":
        return _uniform(seed, k, x)
    spikes = np.random.default_rng([seed, k, 7]).random(len(x)) < 0.25
    factor = 1 + 0.2 * max(17 - k, 0)
    return _progressive_shape(k, x) * np.where(spikes, factor, 1.0) * _mult_noise(seed, k, x, schedule)


def test_bursts_of_several_steps_are_instability(gs):
    """Survives, narrowly: 4-step bursts (up to 6×, twice per segment, growing with depth). A centred median
    of 5 takes a burst of ≥ 3 steps as its trend (on a flat base a 4-step burst scores ~1/4 of a 2-step
    one), but these sit on a falling loss, so the edges keep D above the margin and E positive."""
    progressive_runs(gs.reset(), "small", SEEDS, bursty, steps=STEPS)
    verdict = gs.verdict("mike-fig56-progressive-unstable")
    assert verdict.verdict == "holds", (verdict.verdict, verdict.measured)


def test_a_loss_that_becomes_nan_is_instability(gs):
    """Was a bug. Every seed's progressive run explodes when the weight reaches layer 10 and logs NaN from
    then on. pivot_table drops the all-NaN steps, the deeper segments have no steps left, and the most
    unstable runs possible end "inconclusive: too few logged steps per layer segment (0 < 10); train
    longer" (a NaN inside a segment would instead make that seed's D NaN, and the seed would be
    dropped)."""
    progressive_runs(gs.reset(), "small", SEEDS, blows_up, steps=STEPS)
    verdict = gs.verdict("mike-fig56-progressive-unstable")
    assert verdict.verdict == "holds", (verdict.verdict, verdict.measured)


def test_minibatch_noise_growing_with_depth_is_not_very_unstable(gs):
    """Survives: slightly more minibatch noise at deeper layers stays below the 0.05 log-unit margin."""
    progressive_runs(gs.reset(), "small", SEEDS, noisier_with_depth, steps=STEPS)
    verdict = gs.verdict("mike-fig56-progressive-unstable")
    assert verdict.verdict == "fails", (verdict.verdict, verdict.measured)


def test_a_steeper_smooth_drop_at_deeper_layers_is_not_instability(gs):
    """Survives: the active layer's loss drops smoothly, the faster the deeper (a steep monotone curve),
    and the layers that no longer carry weight drift back up: no spikes, no divergence where it counts."""

    def steep(schedule, seed, k, x):
        if schedule == "uniform":
            return _uniform(seed, k, x)
        start, end = k * SEG, (k + 1) * SEG
        inside = 0.05 + 0.95 * np.exp(-(x - start) * (0.2 + 0.1 * k))
        after = 0.05 + 2.0 * (1 - np.exp(-(x - end) / 30))
        shape = np.where(x < start, 1.0, np.where(x < end, inside, after))
        return shape * _mult_noise(seed, k, x, schedule)

    progressive_runs(gs.reset(), "small", SEEDS, steep, steps=STEPS)
    verdict = gs.verdict("mike-fig56-progressive-unstable")
    assert verdict.verdict != "holds", (verdict.verdict, verdict.measured)


def test_instability_that_shrinks_with_depth_fails(gs):
    """Survives (sign of E): spikes at the shallow layers only — unstable, but not "as the weight moves to
    deeper layers": E is significantly negative."""
    progressive_runs(gs.reset(), "small", SEEDS, shallow_spikes, steps=STEPS)
    verdict = gs.verdict("mike-fig56-progressive-unstable")
    assert verdict.verdict == "fails", (verdict.verdict, verdict.measured)


# At the `cpu` profile's length, 200 logged steps per hand-over segment: a rolling median of 5 there left the
# divergence term the end point and minimum of a barely smoothed noisy curve.
LONG_SEG = 200
LONG_STEPS = LONG_SEG * len(LAYERS)


def _long_noise(seed, k, schedule, sd=0.15):
    return np.random.default_rng([seed, k, len(schedule), 200]).normal(0, sd, LONG_STEPS)


def long_noisy(schedule, seed, k, x):
    """No instability at all: both schedules the same smooth curves with minibatch noise of sd 0.15 (log)."""
    return _progressive_shape(k, x, LONG_SEG, drop=40.0, drift=500.0) * np.exp(_long_noise(seed, k, schedule))


def long_bursts(schedule, seed, k, x):
    """As long_noisy, and in the progressive run two 8-step bursts per segment, (1.2 + 0.1k)× the loss: more
    unstable the deeper the weight."""
    loss = long_noisy(schedule, seed, k, x)
    if schedule == "uniform":
        return loss
    offset = x - k * LONG_SEG
    burst = ((offset >= 60) & (offset < 68)) | ((offset >= 120) & (offset < 128))
    return loss * np.where(burst, 1.2 + 0.1 * k, 1.0)


def _long_contrast(curve, seed, fraction):
    x = np.arange(LONG_STEPS)
    frames = {
        schedule: pd.DataFrame(
            [
                {"step": int(s), "layer": layer, "loss": v}
                for k, layer in enumerate(LAYERS)
                for s, v in zip(x, curve(schedule, seed, k, x), strict=True)
            ]
        )
        for schedule in ("progressive", "uniform")
    }
    return seed_contrast(frames["progressive"], frames["uniform"], LONG_STEPS, 0, DEFAULT_WINDOW, fraction)


def test_the_median_window_grows_with_the_segment():
    assert [window_for(n) for n in (10, 20, 24, 49, 60, 200, 1100)] == [5, 5, 5, 5, 7, 21, 111]
    assert window_for(200, 5, 0.0) == 5  # a claim that sets window_fraction = 0 keeps a fixed window


def test_minibatch_noise_spreads_d_less_with_a_window_that_grows_with_the_segment():
    """Was a bug (a power loss, not a wrong sign): with no instability at all, D's spread between seeds at
    200 steps per segment was 0.028 log units with a fixed window of 5, as large as the spread the `cpu`
    profile measured between real seeds; a tenth of the segment (21) cuts it about threefold."""
    fixed = [_long_contrast(long_noisy, seed, 0.0)[0] for seed in range(8)]
    grown = [_long_contrast(long_noisy, seed, 0.1)[0] for seed in range(8)]
    assert np.std(grown, ddof=1) < 0.5 * np.std(fixed, ddof=1), (fixed, grown)
    assert abs(np.mean(grown)) < 0.02


def test_at_200_steps_per_segment_noise_alone_fails_and_deepening_bursts_hold(gs):
    """Was a bug. With a fixed median window of 5, two 8-step bursts per segment of 1.3–2.9× the loss (very
    unstable, growing with depth) read D −0.017 [90% CI −0.041, 0.007], as noise alone did, and the claim
    "fails": the median of 5 takes a burst of ≥ 3 steps as the trend. With the window a tenth of the
    segment (21): D 0.088 [0.073, 0.102], holds; noise alone still fails (D 0.005)."""
    progressive_runs(gs.reset(), "small", SEEDS, long_noisy, steps=LONG_STEPS)
    verdict = gs.verdict("mike-fig56-progressive-unstable")
    assert verdict.verdict == "fails", (verdict.verdict, verdict.measured)
    assert "median window 21" in verdict.measured
    progressive_runs(gs.reset(), "small", SEEDS, long_bursts, steps=LONG_STEPS)
    verdict = gs.verdict("mike-fig56-progressive-unstable")
    assert verdict.verdict == "holds", (verdict.verdict, verdict.measured)
    progressive_runs(gs.reset(), "small", (0,), long_bursts, steps=LONG_STEPS)
    verdict = gs.verdict("mike-fig56-progressive-unstable")  # the same bursts, one seed: underpowered
    assert verdict.verdict == "inconclusive", (verdict.verdict, verdict.measured)
    assert "n seeds = 1 < 3" in verdict.measured


# ---- Figure 9 ----------------------------------------------------------------------------------------------


def _converging(procedure, seed):
    e = np.arange(60)
    return 0.3 + 0.7 * np.exp(-e / 8) + 0.0005 * np.maximum(e - 45, 0) + 0.001 * np.sin(e + seed)


def test_a_collapse_into_nan_is_a_collapse(gs):
    """Was a bug. fp-fig9-ffp-collapse. F-F-FP improves until epoch 14, then its validation loss is NaN (the
    network diverged) for the 15 epochs of patience. np.argmin takes the first NaN as the "best" epoch and
    no collapse is found in any seed: "fails"."""

    def curve(procedure, seed):
        if procedure != "F-F-FP":
            return _converging(procedure, seed)
        e = np.arange(29)
        return np.where(e < 14, 0.4 + 0.6 * np.exp(-e / 4) + 0.001 * np.cos(e + seed), np.nan)

    convergence_runs(gs.reset(), "paper", SEEDS, curve)
    verdict = gs.verdict("fp-fig9-ffp-collapse", "paper")
    assert verdict.verdict == "holds", (verdict.verdict, verdict.measured)


# ---- stated levels -----------------------------------------------------------------------------------------


def test_just_above_65_percent_is_not_90_percent(gs):
    """Was a bug. fp-stl10-levels: "I-F-FP just above 65%" (Table II: 0.67). Its band has no upper bound,
    so an I-F-FP at 0.90 accuracy "holds" the claim that it is just above 65%."""
    fp_runs(gs.reset(), "paper", SEEDS, levels={(STL, "I-F-FP"): 0.90})
    verdict = gs.verdict("fp-stl10-levels", "paper")
    assert verdict.verdict == "fails", (verdict.verdict, verdict.measured)


# ---- MIKE Figures 3–4: an encoder that did not run hides nothing -------------------------------------------


def _encoders_of(gs, tasks):
    gs.flush()
    return [
        d["meta"]["config_hash"] for d in gs.db.runs.find({"config.stage": "transfer", "config.tasks": tasks})
    ]


@pytest.mark.parametrize("claim", ["mike-fig3-each-average", "mike-fig3-every-comparison"])
def test_an_encoder_that_did_not_run_does_not_hide_a_reversed_one(gs, claim):
    """Was a bug. DCH's MIKE encoder is 0.2 *below* its baseline on every task in every seed: Figure 3's
    claims are false (Holm over all 11 / 121, the missing ones counted as p = 1, still rejects). PHB's
    downstream runs crashed; "only 10 of 11 encoders ran" kept the verdict inconclusive."""

    def diff(e, t, s):
        return (-0.2 if e == TASK_CODES.index("DCH") else 0.2) + noise(0.005, e, t, s)

    figure3_runs(gs.reset(), "small", MIKE_SEEDS, diff)
    _mark_failed(gs, {"config.stage": "downstream", "config.encoder": {"$in": _encoders_of(gs, ["PHB"])}})
    verdict = gs.verdict(claim)
    assert verdict.verdict == "fails", (verdict.verdict, verdict.measured)
    assert "no data for" in verdict.measured and "PHB" in verdict.measured


def test_eleven_below_a_single_teacher_fails_before_every_single_ran(gs):
    """Was a bug. mike-fig4-eleven-between: the eleven-teacher encoder is 0.1 below CTB's (the three suite's
    single-teacher encoder) in every seed: it is not better than every single-teacher encoder. The single
    suite has not run; "only 1 of 11 single-teacher encoders" kept it inconclusive."""
    encoder_runs(gs.reset(), "small", MIKE_SEEDS, {"CTB": 0.7, "PHB+DCH+CTB": 0.75, ELEVEN: 0.6})
    verdict = gs.verdict("mike-fig4-eleven-between")
    assert verdict.verdict == "fails", (verdict.verdict, verdict.measured)


def test_three_below_ctb_fails_without_the_eleven_teacher_encoder(gs):
    """Was a bug. mike-fig4-three-best: the three-teacher encoder is 0.2 below CTB's in every seed, so it is
    not the best; the eleven suite has not run, and the missing encoder made it "no data"."""
    encoder_runs(gs.reset(), "small", MIKE_SEEDS, {"CTB": 0.7, "PHB+DCH+CTB": 0.5})
    verdict = gs.verdict("mike-fig4-three-best")
    assert verdict.verdict == "fails", (verdict.verdict, verdict.measured)


# ---- MIKE Section 5: a planned arm that did not run --------------------------------------------------------

WIDE = {"config.model.decoder_widths": [16, 16, 32, 32, 48]}  # `small`'s decoder at twice the mirror's widths
DEEP = {"config.model.decoder_blocks": 2}


def _decoder_downstream(gs, query, **more):
    gs.flush()
    encoders = [d["meta"]["config_hash"] for d in gs.db.runs.find({"config.stage": "transfer", **query})]
    return {"config.stage": "downstream", "config.encoder": {"$in": encoders}, **more}


def test_a_decoder_variant_that_crashed_does_not_let_the_mirror_hold(gs):
    """Was a bug. mike-s5-decoder-mirror: the wide decoder's encoder is 0.1 *better* than the mirror's, so
    the mirror is not the best. The wide variant's downstream runs crashed (a wider decoder is the one to
    run out of memory): it dropped out of the comparisons and the claim held on narrow and deep."""
    _decoder_runs(gs.reset(), SEEDS, {"mirror": 0.6, "narrow": 0.5, "wide": 0.7, "deep": 0.5}, EVEN)
    assert gs.verdict("mike-s5-decoder-mirror").verdict == "fails"  # the truth, with every variant
    _mark_failed(gs, _decoder_downstream(gs, WIDE))
    verdict = gs.verdict("mike-s5-decoder-mirror")
    assert verdict.verdict == "inconclusive", (verdict.verdict, verdict.measured)
    assert "no data for 1: mirror − widths 16-16-32-32-48" in verdict.measured


@pytest.mark.parametrize("mode", [None, "finetune"], ids=["all", "finetune"])
def test_a_larger_decoder_that_crashed_does_not_let_absorbs_hold(gs, mode):
    """Was a bug. mike-s5-decoder-absorbs: the wide decoder's gap (finetune − fresh) is 0.15 above the
    mirror's, the deep decoder's 0.05 below it: the claim fails. The deep decoder's downstream runs (all,
    or its finetune ones) crashed: it dropped out and the claim held on the wide decoder alone."""
    _decoder_runs(gs.reset(), SEEDS, {k: 0.5 for k in EVEN}, {**EVEN, "wide": 0.2, "deep": 0.0})
    assert gs.verdict("mike-s5-decoder-absorbs").verdict == "fails"  # the truth, with every variant
    _mark_failed(gs, _decoder_downstream(gs, DEEP, **({"config.decoder": mode} if mode else {})))
    verdict = gs.verdict("mike-s5-decoder-absorbs")
    assert verdict.verdict == "inconclusive", (verdict.verdict, verdict.measured)


def test_one_task_run_twice_does_not_stand_in_for_a_missing_one(gs):
    """Was a bug. mike-s5-decoder-mirror, every seed: the mirror's fresh downstream run of PHB crashed and
    its DCH run was stored twice (a rerun with other training options). The 11 rows made an "11-task
    average" of 10 tasks, DCH counted twice, and the claim held on averages that were not 11-task ones."""
    _decoder_runs(gs.reset(), SEEDS, {"mirror": 0.6, "narrow": 0.5, "wide": 0.5, "deep": 0.5}, EVEN)
    mirror = {
        "config.model.decoder_widths": {"$exists": False},
        "config.model.decoder_blocks": {"$exists": False},
    }
    _mark_failed(gs, _decoder_downstream(gs, mirror, **{"config.task": "PHB", "config.decoder": "fresh"}))
    for doc in list(
        gs.db.runs.find(_decoder_downstream(gs, mirror, **{"config.task": "DCH", "config.decoder": "fresh"}))
    ):
        config = {k: v for k, v in doc["config"].items() if k not in ("stage", "profile", "seed")}
        config["train"] = {**config["train"], "steps": config["train"]["steps"] + 1}
        gs.add("downstream", "small", doc["config"]["seed"], config, doc["result"])
    verdict = gs.verdict("mike-s5-decoder-mirror")
    assert verdict.verdict == "inconclusive", (verdict.verdict, verdict.measured)


def test_a_lambda_that_never_ran_keeps_ewc_from_failing(gs):
    """Was a bug. mike-s5-ewc-mitigates, "fails: every λ significantly below the smallest effect". Of
    `small`'s grid (10, 100, 1000) only λ = 100 ran, and it does not mitigate; the others crashed at their
    first step, so they were never compared and the claim failed on one λ of three."""
    _sequential_runs(gs.reset(), SEEDS, {"naive": 0.2, "EWC": 0.2}, variants=("naive", "EWC"))
    verdict = gs.verdict("mike-s5-ewc-mitigates")
    assert verdict.verdict == "inconclusive", (verdict.verdict, verdict.measured)
    assert "EWC λ=10: no runs" in verdict.measured and "EWC λ=1000: no runs" in verdict.measured


def test_two_chains_of_one_seed_are_one_forgetting_value(gs):
    """Was a bug (a crash). mike-s5-sequential-forgets and mike-s5-ewc-mitigates: seed 0's naive chain ran
    twice with different training options (both forget 0.2, as every seed does). R[step, task] had two
    values, `Series.get` returned both, and building the report raised TypeError."""
    _sequential_runs(gs.reset(), SEEDS, {"naive": 0.2, "EWC": 0.05})
    _sequential_runs(gs, (0,), {"naive": 0.2}, variants=("naive",), train={**TRAIN, "steps": 301})
    assert gs.verdict("mike-s5-sequential-forgets").verdict == "holds"
    assert gs.verdict("mike-s5-ewc-mitigates").verdict == "holds"


def test_one_lambda_that_mitigates_is_enough_when_another_did_not_run():
    """Was a bug (the rule after the fix above). need 1 of 3: λ = 100 halves the forgetting in every seed
    (Holm over 3 rejects), λ = 10 and 1000 never ran. Any absent comparison turned "holds" off, so a
    k-of-m claim whose k hold stayed inconclusive."""
    claim = {"id": "k-of-m", "min_seeds": 3, "smallest_effect": 0.01}
    seeds = pd.Series([0.15, 0.16, 0.14, 0.15], index=range(4))
    tests = [
        SeedTest("λ=10", pd.Series(dtype=float)),
        SeedTest("λ=100", seeds),
        SeedTest("λ=1000", pd.Series(dtype=float)),
    ]
    verdict = judge(claim, tests, [], need=1)
    assert verdict.verdict == "holds", verdict.measured
    assert "no data for 2" in verdict.measured
    assert judge(claim, tests, []).verdict == "inconclusive"  # all of them needed: the absent ones count


# ---- attacks the rules survive -----------------------------------------------------------------------------


@pytest.mark.parametrize("ratio,expected", [(0.55, "holds"), (0.70, "fails"), (0.40, "fails")])
def test_tost_bounds_face_the_right_way(gs, ratio, expected):
    """Survives: fp-time-ratio-svhn (0.55 ± 0.10) holds inside, fails above and below the band."""
    fp_runs(gs.reset(), "small", SEEDS, datasets=[SVHN], seconds={(SVHN, "I-F-FP"): 10 * ratio})
    verdict = gs.verdict("fp-time-ratio-svhn")
    assert verdict.verdict == expected, (verdict.verdict, verdict.measured)


def test_time_ratios_are_paired_by_seed_under_machine_load(gs):
    """Survives: each seed ran on a differently loaded machine (every time × 1, × 2, × 3). Per seed I-F-FP
    takes 0.6 of I-I-PS's time; the ratio is formed within the seed, so the load cancels."""
    gs.reset()
    for seed, load_factor in zip(SEEDS, (1, 2, 3), strict=True):
        seconds = {(d, p): 10.0 * load_factor for d in (LL, STL, SVHN) for p in ("I-I-PS",)}
        seconds |= {(d, "I-F-FP"): 6.0 * load_factor for d in (LL, STL, SVHN)}
        fp_runs(gs, "small", [seed], seconds=seconds)
    _drop_duplicate_hashes(gs)
    verdict = gs.verdict("fp-faster")
    assert verdict.verdict == "holds", (verdict.verdict, verdict.measured)
    assert verdict.n_seeds == 3


def test_one_seed_stored_three_times_is_one_seed(gs):
    """Survives (min_seeds): the runs of seed 0, stored three times, are still one seed."""
    fp_runs(gs.reset(), "small", (0,))
    _duplicate(gs, {"config.seed": 0}, 2)
    verdict = gs.verdict("fp-faster")
    assert verdict.verdict == "inconclusive" and verdict.n_seeds == 1, (verdict.verdict, verdict.measured)


def test_fipw_better_at_two_z_is_not_worse(gs):
    """Survives (sign): F-I-PW 5 and 10 points *better* than I-I-PW at two z: the claim fails."""
    fp_runs(gs.reset(), "small", SEEDS, levels={(SVHN, "F-I-PW"): {64: 0.87, 128: 0.92, 256: 0.82}})
    verdict = gs.verdict("fp-svhn-fipw-two-z")
    assert verdict.verdict == "fails", (verdict.verdict, verdict.measured)


def test_lunar_distances_are_signed_lower_is_better(gs):
    """Survives (sign): on LunarLander a larger distance is worse. I-F-FP at 3× I-I-PS's distance is far
    outside the 10% non-inferiority margin: fp-ifp-as-good-as-ps fails (all datasets ran)."""
    fp_runs(gs.reset(), "small", SEEDS, levels={(LL, "I-F-FP"): 0.06})
    verdict = gs.verdict("fp-ifp-as-good-as-ps")
    assert verdict.verdict == "fails" and "LunarLander" in verdict.measured, (
        verdict.verdict,
        verdict.measured,
    )


def test_unpaired_seeds_are_not_compared(gs):
    """Survives (pairing): the baselines ran with seeds 0–3 and the MIKE encoders with seeds 4–7; no
    comparison has a MIKE and a baseline value of one seed, so nothing is judged."""
    figure3_runs(gs.reset(), "small", range(8), lambda e, t, s: 0.2)
    _mark_failed(gs, {"config.stage": "transfer", "config.seed": {"$lt": 4}})
    _mark_failed(gs, {"config.stage": "baseline", "config.seed": {"$gte": 4}})
    verdict = gs.verdict("mike-fig3-each-average")
    assert verdict.verdict == "inconclusive", (verdict.verdict, verdict.measured)
