"""Profiles: typed overrides; unknown keys and wrong types are refused."""

import pytest

from mike.profiles import PROFILES, ConfigError, get_profile


def test_overrides_apply_typed_values():
    p = get_profile("small").with_overrides(
        {"teacher.steps": 7, "transfer.lr": 1, "segmenter_widths": [8, 8, 8, 16]}
    )
    assert p.teacher.steps == 7 and p.transfer.lr == 1.0 and isinstance(p.transfer.lr, float)
    assert p.segmenter_widths == (8, 8, 8, 16)
    assert get_profile("small").teacher.steps != 7  # profiles themselves are untouched


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"teacher.stepz": 3}, "unknown config key 'teacher.stepz'"),
        ({"nonsense": 1}, "unknown config key 'nonsense'"),
        ({"teacher.steps": "many"}, "teacher.steps: expected int"),
        ({"teacher.steps": 2.5}, "teacher.steps: expected int"),
        ({"segmenter_widths": [8, 8]}, "expected a list of 4 values"),
        ({"teacher": 3}, "is a section"),
    ],
)
def test_bad_overrides_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        get_profile("small").with_overrides(overrides)


def test_unknown_profile():
    with pytest.raises(ConfigError, match="unknown profile 'huge'"):
        get_profile("huge")
    assert set(PROFILES) == {"smoke", "small", "cpu", "paper"}


def test_the_cli_offers_every_profile():
    from benchmark.cli_args import PROFILE_NAMES

    assert set(PROFILE_NAMES) == set(PROFILES)


def test_shared_teachers_are_trained_once_for_every_seed():
    from suites.mike_suites import single

    shared = get_profile("smoke").with_overrides({"suites.teacher_seed": 0})
    teachers = [p for p in single(shared, [0, 1, 2], None) if p.spec.stage == "teacher"]
    assert len(teachers) == 11 and {p.spec.config["seed"] for p in teachers} == {0}
    own = [p for p in single(get_profile("smoke"), [0, 1], None) if p.spec.stage == "teacher"]
    assert len(own) == 22 and {p.spec.config["seed"] for p in own} == {0, 1}
    transfers = [p for p in single(shared, [0, 1, 2], None) if p.spec.stage == "transfer"]
    assert {p.spec.config["seed"] for p in transfers} == {0, 1, 2}  # the autoencoders still vary by seed
    with pytest.raises(ConfigError, match="teacher_seed"):
        get_profile("smoke").with_overrides({"suites.teacher_seed": -2})


def test_the_cpu_profile_is_small_with_its_power_analysis():
    cpu, small = get_profile("cpu"), get_profile("small")
    assert (cpu.segmenter_widths, cpu.autoencoder_widths, cpu.teacher) == (
        small.segmenter_widths,
        small.autoencoder_widths,
        small.teacher,
    )
    assert cpu.seeds == 3  # the rules' minimum for a verdict
    assert cpu.losses.seeds == 5  # what the first cpu run's time-ratio spread asked for, as far as it fits
    assert cpu.suites.teacher_seed == 0 and cpu.suites.progressive_steps_per_layer == 200
    assert {"budget", "seeds", "Figure 3", "Figure 4", "Figures 5–6", "losses"} <= set(cpu.design)


def test_faithful_defaults_no_pixel_warmup_and_a_fresh_downstream_decoder():
    from suites.mike_suites import progressive, single

    for profile in PROFILES.values():
        assert profile.transfer.warmup_steps == 0  # Section 3.3: uniform or progressive from the start
        assert profile.suites.downstream_decoder == "fresh"
        assert profile.execution.precision == "fp32" and not profile.execution.compile
    smoke = get_profile("smoke")
    plan = single(smoke, [0], None)
    assert all(p.spec.config["train"]["warmup_steps"] == 0 for p in plan if p.spec.stage == "transfer")
    assert {p.spec.config["decoder"] for p in plan if p.spec.stage == "downstream"} == {"fresh"}
    assert not any("execution" in p.spec.config for p in plan)  # recorded only when switched on
    ablation = smoke.with_overrides(
        {"transfer.warmup_steps": 2, "suites.downstream_decoder": "finetune", "execution.precision": "bf16"}
    )
    plan = progressive(ablation, [0], None)
    transfer = [p.spec.config for p in plan if p.spec.stage == "transfer"]
    assert all(c["train"]["warmup_steps"] == 2 and c["execution"]["precision"] == "bf16" for c in transfer)
    with pytest.raises(ConfigError, match="downstream_decoder must be 'fresh' or 'finetune'"):
        smoke.with_overrides({"suites.downstream_decoder": "frozen"})
    with pytest.raises(ConfigError, match="precision must be one of fp32, bf16"):
        smoke.with_overrides({"execution.precision": "fp16"})


def test_paper_profile_lists_its_choices_and_runs_the_feature_prediction_study_four_times():
    paper = get_profile("paper")
    assert paper.losses.seeds == 4
    assert {"widths", "COCO crops", "training lengths", "optimiser", "repeats"} <= set(paper.reduced)
    # A default paper run cannot decide a MIKE claim (1 seed < the rules' 3): the profile must say so.
    assert paper.seeds == 1 and "--seeds 3" in paper.reduced["repeats"]


def test_progressive_steps_per_layer_lengthen_both_schedules_of_figures_5_6_only():
    from mike.profiles import TEACHER_LAYERS
    from suites.registry import SuitePaths, build_plan

    profile = get_profile("small").with_overrides({"suites.progressive_steps_per_layer": 7})
    runs = build_plan("all", profile, [0], SuitePaths())
    progressive = [
        p for p in build_plan("progressive", profile, [0], SuitePaths()) if p.spec.stage == "transfer"
    ]
    assert sorted(p.spec.config["schedule"] for p in progressive) == ["progressive", "uniform"]
    assert {p.spec.config["train"]["steps"] for p in progressive} == {7 * TEACHER_LAYERS}
    others = [
        p
        for p in runs
        if p.spec.stage == "transfer" and p.spec.hash not in {q.spec.hash for q in progressive}
    ]
    assert others and {p.spec.config["train"]["steps"] for p in others} == {profile.transfer.steps}
    with pytest.raises(ConfigError, match="progressive_steps_per_layer"):
        get_profile("small").with_overrides({"suites.progressive_steps_per_layer": -1})


def test_the_teacher_has_the_layer_count_planning_assumes():
    from mike.models.segmenter import Segmenter
    from mike.profiles import TEACHER_LAYERS

    assert len(Segmenter((8, 8, 8, 8), 1).layers) == TEACHER_LAYERS
