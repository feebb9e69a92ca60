"""A hostile review of the claim verdicts: generated runs built to make each rule say something the data does
not. "Was a bug": the attack broke the rule before its fix (the docstring says what the data truly shows);
the others are attacks the rules survived. All are kept as regression tests. The Figures 5–6 rule and the
Section 5 rules have their own: test_claims_attacks_instability, test_claims_attacks_section5."""

import numpy as np
import pytest
from scipy import stats

from benchmark.report.claims import evaluate, load_claims
from benchmark.report.data import load, restrict
from benchmark.report.settings import enumerate_settings
from mike.data.tasks import TASK_CODES
from tests.run_documents import (
    convergence_runs,
    encoder_runs,
    figure3_runs,
    fp_runs,
    noise,
    served,
)

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
