"""Preconditions checked before any verdict: on runs where one fails, a claim that would hold or fail is
inconclusive and names it; where they are met the verdict stands. And the power analysis each verdict
prints (seeds for 80% power), against hand-computed values."""

import math

import pytest
from scipy import stats

from benchmark.report.claims.preconditions import MET, NOT_CHECKED, NOT_MET, family_checks
from benchmark.report.data import constant_iou, load
from benchmark.report.stats import mde, seeds_for
from tests.run_documents import SYNTHETIC, TRAIN, figure3_runs, fp_runs, noise, served, split_runs
from tests.test_section5 import EVEN, _decoder_runs

SEEDS = (0, 1, 2, 3)
PARAMS = {"teachers": {"min_gain": 0.2}, "embeddings": {"min_gain_distance": 0.1, "min_gain_accuracy": 0.05}}


@pytest.fixture(scope="module")
def gs(tmp_path_factory):
    with served(tmp_path_factory.mktemp("preconditions")) as store:
        yield store


def test_constant_predictor_iou_is_the_mean_positive_fraction_of_channels_with_positives():
    # every pixel positive: IoU_c = intersection / union = positives / all pixels; empty channels excluded
    assert constant_iou([0.1, 0.3, 0.0]) == pytest.approx(0.2)
    assert math.isnan(constant_iou([0.0, 0.0]))
    assert math.isnan(constant_iou(float("nan")))  # pandas reads a dataset run without the field as NaN
    assert math.isnan(constant_iou(None))


def test_good_teachers_meet_it_and_the_verdict_stands(gs):
    figure3_runs(gs.reset(), "small", SEEDS, lambda e, t, s: 0.2 + noise(0.005, e, t, s), teacher_iou=0.7)
    split_runs(gs, "small", [0.05, 0.1, 0.09])  # constant predictor IoU 0.08
    verdict = gs.verdict("mike-fig3-each-average")
    assert verdict.verdict == "holds", verdict.measured
    (check,) = verdict.preconditions
    assert check.status == MET and "0.080" in check.detail


def test_teachers_near_the_constant_predictor_make_a_holding_claim_inconclusive(gs):
    figure3_runs(gs.reset(), "small", SEEDS, lambda e, t, s: 0.2 + noise(0.005, e, t, s), teacher_iou=0.2)
    split_runs(gs, "small", [0.05, 0.1, 0.09])
    verdict = gs.verdict("mike-fig3-each-average")
    assert verdict.verdict == "inconclusive"
    assert verdict.measured.startswith(
        "inconclusive (precondition not met: teachers above the constant predictor)"
    )
    assert "44 of 44 teachers short" in verdict.preconditions[0].detail


def test_teachers_without_dataset_runs_are_not_checked_and_block_nothing(gs):
    figure3_runs(gs.reset(), "small", SEEDS, lambda e, t, s: -0.1 + noise(0.005, e, t, s), teacher_iou=0.2)
    verdict = gs.verdict("mike-fig3-each-average")
    assert verdict.verdict == "fails"
    assert verdict.preconditions[0].status == NOT_CHECKED


def test_a_teacher_no_run_of_the_claim_used_does_not_block_it(gs):
    """Was a bug. mike-s5-decoder-mirror (Section 5: one setting of every run of the profile): its 33
    teachers are well above the constant predictor and the mirror clearly wins. A replica BTS teacher
    (seed 1000, which only the scaling study's 22- and 44-teacher encoders use) is near the constant: the
    teachers check read every teacher of the profile and made the decoder verdict inconclusive."""
    _decoder_runs(gs.reset(), (0, 1, 2), {"mirror": 0.6, "narrow": 0.5, "wide": 0.5, "deep": 0.5}, EVEN)
    split_runs(gs, "small", [0.05, 0.1, 0.09])
    gs.add("teacher", "small", 1000, {"task": "BTS", "data": SYNTHETIC, "train": TRAIN}, {"iou": 0.1})
    verdict = gs.verdict("mike-s5-decoder-mirror")
    assert verdict.verdict == "holds", verdict.measured
    (check,) = verdict.preconditions
    assert check.status == MET and "over 33 teachers" in check.detail
    # a weak teacher that the claim's runs do use still blocks it: seed 0's BTS downstream runs read theirs
    weak = gs.add(
        "teacher", "small", 0, {"task": "BTS", "data": SYNTHETIC, "train": {**TRAIN, "lr": 0.1}}, {"iou": 0.1}
    )
    gs.flush().db.runs.update_many(
        {"config.stage": "downstream", "config.task": "BTS", "config.seed": 0},
        {"$set": {"config.teacher": weak}},
    )
    verdict = gs.verdict("mike-s5-decoder-mirror")
    assert verdict.verdict == "inconclusive" and verdict.preconditions[0].status == NOT_MET, verdict.measured


def test_embeddings_at_the_constant_guess_make_a_holding_claim_inconclusive(gs):
    # PW at the constant guess (0.5), the rest far better: "PW worst" would hold, but PW's embeddings carry
    # nothing, so the comparison is against noise
    levels = {("lunar_lander", "I-I-PW"): 0.5, ("lunar_lander", "F-I-PW"): 0.49}
    fp_runs(gs.reset(), "small", SEEDS, datasets=("lunar_lander",), levels=levels)
    verdict = gs.verdict("fp-lunar-pw-worst")
    assert verdict.verdict == "inconclusive", verdict.measured
    assert "precondition not met: embeddings beat the constant guess (LunarLander)" in verdict.measured
    (embeddings, stopped) = verdict.preconditions
    assert embeddings.status == NOT_MET and "I-I-PW, F-I-PW" in embeddings.detail
    assert stopped.status == MET


def test_embeddings_clearly_better_let_the_verdict_stand(gs):
    fp_runs(gs.reset(), "small", SEEDS, datasets=("lunar_lander",))
    verdict = gs.verdict("fp-lunar-pw-worst")
    assert verdict.verdict == "holds", verdict.measured
    assert [c.status for c in verdict.preconditions] == [MET, MET]


def test_a_gain_whose_interval_reaches_below_the_margin_is_not_clearly_better(gs):
    # F-F-FP's mean gain clears 10% of the constant guess, but its spread over seeds leaves the bound below it
    levels = {("lunar_lander", "F-F-FP"): {64: 0.42, 128: 0.44, 256: 0.46}}
    fp_runs(gs.reset(), "small", SEEDS, datasets=("lunar_lander",), levels=levels, spread=3.0)
    checks = family_checks("feature prediction", load(gs.flush(), "small"), PARAMS)
    assert checks[0].status == NOT_MET and "F-F-FP" in checks[0].detail.split(".")[0]


def test_one_seed_gives_no_interval_so_the_embeddings_are_not_checked(gs):
    fp_runs(gs.reset(), "small", (0,), datasets=("lunar_lander",))
    checks = family_checks("feature prediction", load(gs.flush(), "small"), PARAMS)
    assert checks[0].status == NOT_CHECKED and "no interval (1 seed)" in checks[0].detail


@pytest.mark.parametrize(
    "stopping,status",
    [
        ({"epochs": 6, "best_epoch": 5}, NOT_MET),  # still improving at the limit: cut short
        ({"epochs": 6, "best_epoch": 2}, MET),  # patience ran out on the last allowed epoch
        ({"epochs": 4, "best_epoch": 0}, MET),
    ],
    ids=["cut-short", "patience-on-the-last-epoch", "early"],
)
def test_autoencoders_must_stop_for_patience(gs, stopping, status):
    fp_runs(gs.reset(), "small", SEEDS, datasets=("lunar_lander",), stopping=stopping)
    verdict = gs.verdict("fp-lunar-pw-worst")
    assert verdict.preconditions[1].status == status, verdict.preconditions[1].detail
    assert verdict.verdict == ("inconclusive" if status == NOT_MET else "holds")


def test_time_claims_need_timings_taken_alone_but_not_informative_embeddings(gs):
    fp_runs(gs.reset(), "small", SEEDS, datasets=("lunar_lander",), stopping={"epochs": 6, "best_epoch": 5})
    verdict = gs.verdict("fp-faster")
    assert [(c.name, c.status) for c in verdict.preconditions] == [("timings taken alone (LunarLander)", MET)]
    assert verdict.verdict == "holds"


def test_timings_taken_beside_other_runs_make_a_time_verdict_inconclusive(gs):
    fp_runs(gs.reset(), "small", SEEDS, datasets=("lunar_lander",), runs_at_once=2)
    for claim in ("fp-faster", "fp-time-ratio-lunar"):
        verdict = gs.verdict(claim)
        assert verdict.verdict == "inconclusive", (claim, verdict.measured)
        assert "precondition not met: timings taken alone (LunarLander)" in verdict.measured
        assert "shared the machine with up to 1 other runs" in verdict.preconditions[0].detail


def test_seeds_for_is_the_first_n_whose_detectable_effect_reaches_the_target():
    for sd, effect in ((1.0, 1.0), (0.01, 0.005), (0.3, 0.1)):
        n = seeds_for(sd, effect)
        assert mde(sd, n) <= effect < mde(sd, n - 1) or n == 3
    # by hand, sd = effect: n = 9 gives (t_.95,8 + t_.8,8) / 3 = (1.860 + 0.889) / 3 = 0.916 ≤ 1, n = 8
    # gives (1.895 + 0.896) / √8 = 0.987 ≤ 1, n = 7: (1.943 + 0.906) / √7 = 1.077 > 1 → 8
    assert seeds_for(1.0, 1.0) == 8
    assert (stats.t.ppf(0.95, 7) + stats.t.ppf(0.8, 7)) / math.sqrt(8) <= 1.0
    assert math.isinf(seeds_for(1.0, 0.0)) and math.isinf(seeds_for(1.0, 0.01))


def test_each_verdict_prints_the_seeds_it_would_need(gs):
    figure3_runs(gs.reset(), "small", SEEDS, lambda e, t, s: 0.2 + noise(0.005, e, t, s))
    verdict = gs.verdict("mike-fig3-each-average")
    n, basis = verdict.seeds_needed.split(" ", 1)
    assert basis == "(smallest effect)" and 3 <= int(n) <= 200
    one = gs.reset()
    figure3_runs(one, "small", (0,), lambda e, t, s: 0.2)
    assert one.verdict("mike-fig3-each-average").seeds_needed.startswith("n/a")
