"""A hostile review of the Section 5 claim rules (decoder study, sequential transfer, EWC): generated runs
where a planned arm crashed or a cell was stored twice. "Was a bug": the attack broke the rule before its fix.
Kept as regression tests (the other rules: test_claims_attacks)."""

import pandas as pd
import pytest

from benchmark.report.claims.common import SeedTest, judge
from tests.run_documents import TRAIN, served
from tests.test_claims_attacks import _mark_failed
from tests.test_section5 import EVEN, _decoder_runs
from tests.test_sequential import _sequential_runs

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def gs(tmp_path_factory):
    with served(tmp_path_factory.mktemp("section5-attacks")) as store:
        yield store


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
