"""Claims transcribed from the papers (reports/claims.toml), each judged from the stored runs.

An evaluator turns the runs of one setting into a verdict — holds, fails or inconclusive — with the
measured figures, the number of seeds, the test and its minimum detectable effect, and the run ids behind
it. How each claim is judged is stated in the claims file (`judge`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

from benchmark.report.claims import (
    convergence,
    featpred,
    instability,
    mike,
    preconditions,
    reference,
    section5,
    sequential,
)
from benchmark.report.claims.common import FAILS, HOLDS, INCONCLUSIVE, Verdict
from benchmark.report.claims.mike import three_column
from benchmark.report.data import ReportData

__all__ = [
    "CLAIMS_FILE",
    "FAILS",
    "HOLDS",
    "INCONCLUSIVE",
    "Verdict",
    "evaluate",
    "load_claims",
    "three_column",
]

CLAIMS_FILE = Path(__file__).resolve().parents[3] / "reports" / "claims.toml"
SUBSTITUTE_LABEL = "computed with the substitute loss network, a different setting from the paper's"


def load_claims(path: Path = CLAIMS_FILE) -> list[dict]:
    with open(path, "rb") as f:
        return tomllib.load(f)["claim"]


def load_preconditions(path: Path = CLAIMS_FILE) -> dict:
    """The margins of the preconditions (the claims file's [preconditions] table)."""
    with open(path, "rb") as f:
        return tomllib.load(f)["preconditions"]


def not_run(claim, data: ReportData, store) -> Verdict:
    return Verdict(claim, INCONCLUSIVE, f"not run by the suites: {claim['statistic']}")


EVALUATORS: dict[str, Callable] = {
    f.__name__: f
    for f in (
        mike.fig3_every_comparison,
        mike.fig3_each_average,
        mike.fig4_three_best,
        mike.fig4_eleven_between,
        instability.fig56_instability,
        section5.s5_bottleneck_instability,
        section5.s5_decoder_mirror_best,
        section5.s5_decoder_absorbs,
        sequential.s5_sequential_forgets,
        sequential.s5_ewc_mitigates,
        featpred.fp_faster,
        featpred.fp_pw_worse,
        featpred.fp_ifp_vs_ps,
        featpred.fp_ffp_below,
        featpred.fp_ordered_levels,
        featpred.fp_top_two,
        featpred.fp_fipw_worse_at_two_z,
        featpred.fp_fi_comparable,
        featpred.simple_cnn_beats_all,
        reference.fp_reference_values,
        reference.fp_levels,
        reference.fp_time_ratio,
        convergence.fig9_ffp_collapse,
        convergence.fig9_near_optimal,
        convergence.fig9_ffp_total_time,
        not_run,
    )
}


def evaluate(
    claims: list[dict],
    data: ReportData,
    store,
    suites: set[str],
    setting: str = "",
    params: dict | None = None,
) -> list[Verdict]:
    """Every claim of the given suites, judged on `data` (the runs of one setting, named `setting`), then
    held to its preconditions (params: their margins; default: the claims file's)."""
    params = load_preconditions() if params is None else params
    verdicts = []
    for claim in claims:
        if claim["suite"] not in suites:
            continue
        verdict = EVALUATORS[claim["kind"]](claim, data, store)
        verdict.setting = setting
        if claim.get("loss_network") and "substitute" in data.data_sources.get("loss_networks", []):
            verdict.label = SUBSTITUTE_LABEL
        checks = preconditions.checks_for(claim, data, params, verdict.run_ids)
        verdicts.append(_held_to(verdict, checks))
    return verdicts


def _held_to(verdict: Verdict, checks: list[preconditions.Check]) -> Verdict:
    """A decided verdict on runs that fail a precondition is inconclusive, naming the precondition."""
    verdict.preconditions = checks
    failed = [c for c in checks if c.status == preconditions.NOT_MET]
    if failed and verdict.verdict in (HOLDS, FAILS):
        names = "; ".join(c.name for c in failed)
        verdict.measured = f"inconclusive (precondition not met: {names}). " + verdict.measured
        verdict.verdict = INCONCLUSIVE
    return verdict
