"""The suite line's time estimate."""

import pytest

from benchmark.executor import _estimate


def test_estimate_uses_each_stage_mean_and_overall_mean_for_unseen_stages():
    remaining = {"teacher": 2, "downstream": 10, "transfer": 1}
    seconds = {"teacher": 60.0, "downstream": 4.0}  # 2 teachers took 60 s, 1 downstream 4 s
    counts = {"teacher": 2, "downstream": 1}
    overall = 64.0 / 3
    assert _estimate(remaining, seconds, counts) == pytest.approx(2 * 30 + 10 * 4 + overall)


def _plan():
    from mike.profiles import get_profile
    from suites.mike_suites import three

    return three(get_profile("smoke"), [0], None)


def test_downstream_runs_of_one_encoder_form_one_group_that_waits_for_every_teacher():
    from benchmark.schedule import group_plan

    plan = _plan()
    groups = group_plan(plan, completed=set())
    downstream = [g for g in groups if g.runs[0].spec.stage == "downstream"]
    assert len(downstream) == 2  # the three-teacher MIKE encoder and its pixel-wise baseline
    assert all(len(g.runs) == 11 for g in downstream)
    assert all(
        {r.spec.config["encoder"] for r in g.runs} == {g.runs[0].spec.config["encoder"]} for g in downstream
    )
    teachers = {p.spec.hash for p in plan if p.spec.stage == "teacher"}
    assert all(teachers <= g.needs for g in downstream)  # every task's teacher normalises its IoU
    (datasets,) = [g for g in groups if g.runs[0].spec.stage == "dataset"]
    assert len(datasets.runs) == 22  # one data source: drawn once, by one worker
    others = [g for g in groups if g.runs[0].spec.stage not in ("downstream", "dataset")]
    assert all(len(g.runs) == 1 for g in others)
    assert sum(len(g.runs) for g in groups) == len(plan)


def test_groups_start_in_plan_order_once_their_dependencies_are_done_and_skip_completed_runs():
    from benchmark.schedule import group_plan, next_ready

    plan = _plan()
    datasets = {p.spec.hash for p in plan if p.spec.stage == "dataset"}
    groups = group_plan(plan, completed=datasets)
    assert all(g.runs[0].spec.stage != "dataset" for g in groups)
    done, order = set(datasets), []
    while groups:
        group = next_ready(groups, done)
        assert group is not None and group.needs <= done
        order.append(group.runs[0].spec.stage)
        done.update(group.hashes)
    assert order.index("downstream") > max(i for i, s in enumerate(order) if s == "teacher")
    assert next_ready([], done) is None


def test_while_others_run_a_free_worker_takes_untimed_work_before_a_timed_group():
    """A timed group (an autoencoder's time per epoch) runs alone; a pool that waited for it to be first in
    line left a core idle while a long run ended (≈ 90 s a seed for the simple CNN in `losses`)."""
    from benchmark.schedule import Group, next_ready
    from suites.plan import Planned, RunSpec

    def group(stage: str, needs: set[str]) -> Group:
        return Group([Planned(RunSpec(stage, stage, {"stage": stage}))], needs)

    timed, untimed, blocked = group("autoencoder", set()), group("simple_cnn", set()), group("probe", {"x"})
    assert timed.timed and not untimed.timed
    pending = [blocked, timed, untimed]
    assert next_ready(pending, set(), untimed_only=True) is untimed  # plan order, timed skipped
    assert next_ready(pending, set(), untimed_only=True) is None  # only the timed one is ready
    assert next_ready(pending, set()) is timed  # the pool is empty: it runs, alone
    assert pending == [blocked]
