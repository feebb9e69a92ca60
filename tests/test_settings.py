"""Runs of one profile but different settings are never averaged together: each setting is judged and
shown on its own, described by how it differs from the profile's default. The runs are exactly those a
suite plans (with and without overrides, synthetic or real COCO, substitute or ImageNet loss network)."""

import re

import pytest

from benchmark.report.build import build, suites_present
from benchmark.report.claims import evaluate, load_claims
from benchmark.report.data import load, split_by_setting
from mike.featpred.weights_file import imagenet_weights_path
from mike.profiles import get_profile
from suites.loss_suites import losses
from suites.mike_suites import eleven, progressive, single, three
from tests.run_documents import LEVELS, noise, plan_documents, served

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def gs(tmp_path_factory):
    with served(tmp_path_factory.mktemp("settings")) as store:
        yield store


def _mike_results(better: set[str], worse: set[str]):
    """Downstream values: baselines 0.5; MIKE encoders in `better` 0.7, in `worse` 0.3."""

    def result(config):
        if config["stage"] == "teacher":
            return {"iou": 0.7}
        if config["stage"] != "downstream":
            return {}
        offset = 0.2 if config["encoder"] in better else -0.2 if config["encoder"] in worse else 0.0
        return {
            "normalised_iou": 0.5 + offset + noise(0.01, config["task"], config["encoder"], config["seed"])
        }

    return result


def _mike_encoders(plan) -> set[str]:
    return {p.spec.hash for p in plan if p.spec.stage == "transfer"}


@pytest.mark.parametrize(
    "other,described,shared",
    [
        ({"overrides": {"transfer.warmup_steps": 7}}, "MIKE encoder: train.warmup_steps: 7 (default", True),
        (
            {"coco_root": "/data/coco"},
            "data: real COCO at /data/coco (profile default: synthetic COCO)",
            False,
        ),
    ],
    ids=["warm-up override", "real COCO"],
)
def test_two_mike_settings_are_judged_apart(gs, other, described, shared, tmp_path):
    profile = get_profile("smoke")
    default = single(profile, SEEDS, None)
    changed = single(profile.with_overrides(other.get("overrides", {})), SEEDS, other.get("coco_root"))
    result = _mike_results(better=_mike_encoders(default), worse=_mike_encoders(changed))
    plan_documents(gs.reset(), default, result)
    plan_documents(gs, changed, result)
    store = gs.flush()
    settings = split_by_setting(load(store, "smoke"), "MIKE")
    assert [s.name for s, _ in settings] == ["A", "B"]
    by_summary = {s.summary(): (s, part) for s, part in settings}
    assert "the profile's default configuration" in by_summary
    (other_summary,) = set(by_summary) - {"the profile's default configuration"}
    assert described in other_summary
    claim = next(c for c in load_claims() if c["id"] == "mike-fig3-each-average")
    verdicts = {
        summary: evaluate([claim], part, store, {"single"})[0].verdict
        for summary, (_, part) in by_summary.items()
    }
    assert verdicts == {"the profile's default configuration": "holds", other_summary: "fails"}
    # a warm-up ablation shares the pixel-wise baselines; other data does not; no MIKE encoder is in both
    parts = [part.downstream for _, part in settings]
    baseline_rows = [set(p.loc[p["kind"] == "pixel-wise", "run_id"]) for p in parts]
    assert (baseline_rows[0] == baseline_rows[1]) is shared
    assert len(baseline_rows[0]) == len(baseline_rows[1]) == 11 * 11 * len(SEEDS)
    mike_rows = [set(p.loc[p["kind"] == "MIKE", "run_id"]) for p in parts]
    assert not mike_rows[0] & mike_rows[1]
    # the report shows each setting with its own verdict table, seeds, test and MDE
    md = (build(store, "smoke", "single", tmp_path) / "report.md").read_text()
    assert "### MIKE setting A: " in md and "### MIKE setting B: " in md and described in md
    assert (
        "| claim | source | verdict | n seeds | test | MDE (80% power) | seeds for 80% power | measured |"
        in md
    )
    assert "MIKE, Figure 3: single-teacher encoders vs the pixel-wise baseline (MIKE setting B)" in md


def test_a_progressive_only_setting_shows_its_own_claim_only(gs, tmp_path):
    """The progressive suite's encoders train longer than the others (cpu: 200 batches per teacher layer),
    so they are a setting of their own, with no downstream runs. The pixel-wise baselines, shared by every
    setting, must not make Figures 3–4 appear there: a `cpu` report showed their sections with 'nan'
    averages and their claims as 'no data'."""
    profile = get_profile("smoke").with_overrides({"suites.progressive_steps_per_layer": 2})
    plan = [p for suite in (single, three, eleven, progressive) for p in suite(profile, SEEDS, None)]
    plan_documents(gs.reset(), plan, _mike_results(better=set(), worse=set()))
    store = gs.flush()
    settings = split_by_setting(load(store, "smoke"), "MIKE")
    present = {s.name: suites_present(part) for s, part in settings}
    assert present == {"A": ["single", "three", "eleven"], "B": ["progressive"]}
    md = (build(store, "smoke", None, tmp_path) / "report.md").read_text()
    table_b = re.split(r"\n#+ ", md.split("### MIKE setting B: ")[1])[0]
    assert "Figures 5–6, Section 4.2" in table_b
    assert "Figure 3" not in table_b and "Figure 4" not in table_b
    headings = [line for line in md.splitlines() if line.startswith("#") and "(MIKE setting B)" in line]
    assert headings and all("Figures 5–6" in h for h in headings)
    assert "| nan" not in md
    assert any("Figure 3" in h and "(MIKE setting A)" in h for h in md.splitlines() if h.startswith("#"))


def test_loss_networks_are_settings_and_i_i_pw_serves_both(gs, tmp_path):
    if imagenet_weights_path(None) is not None:
        pytest.skip("ImageNet AlexNet weights are on this machine: the default plan is not the substitute")
    weights = tmp_path / "alexnet.pth"
    weights.write_bytes(b"not really weights: the plan only records the digest")
    profile = get_profile("smoke")

    def result(config):
        if config["stage"] != "probe":
            return {"epochs": 2, "epoch_seconds": 1.0} if config["stage"] == "autoencoder" else {}
        dataset, procedure = config["data"]["dataset"], config["procedure"]
        value = LEVELS[dataset][procedure] + noise(0.001, procedure, config["z"], config["seed"])
        uses = procedure != "I-I-PW"
        source = ("imagenet" if "digest" in str(config) else "substitute") if uses else "none"
        return {
            "dataset": dataset,
            "procedure": procedure,
            "z": config["z"],
            "metric": "distance",
            "test_metric": value,
            "constant_metric": 0.5,
            "epoch_seconds": 1.0,
            "epoch_cpu_seconds": 1.0,
            "loss_network": source,
        }

    substitute, imagenet = losses(profile, SEEDS), losses(profile, SEEDS, alexnet_weights=weights)
    lossnet_of = {p.spec.hash: p.spec.config for p in substitute + imagenet if p.spec.stage == "loss_network"}
    autoencoders = {
        p.spec.hash: p.spec.config for p in substitute + imagenet if p.spec.stage == "autoencoder"
    }

    def sourced(config):  # the probe learns which loss network its autoencoder used
        if config["stage"] == "probe":
            net = autoencoders[config["autoencoder"]]["loss_network"]
            marker = "digest" if net and "digest" in lossnet_of[net] else ""
            return result({**config, "marker": marker} if marker else config)
        return result(config)

    plan_documents(gs.reset(), substitute, sourced)
    plan_documents(gs, imagenet, sourced)
    store = gs.flush()
    settings = split_by_setting(load(store, "smoke"), "feature prediction")
    assert len(settings) == 2
    summaries = {s.summary(): part for s, part in settings}
    (paper,) = [k for k in summaries if "ImageNet AlexNet" in k]
    (other,) = [k for k in summaries if "substitute" in k]
    for part in summaries.values():
        probes = part.probes
        assert len(probes) == 6 * 3 * len(SEEDS)  # every procedure: I-I-PW in both settings
    assert set(summaries[paper].probes["loss_network"]) == {"imagenet", "none"}
    assert set(summaries[other].probes["loss_network"]) == {"substitute", "none"}
    claim = next(c for c in load_claims() if c["id"] == "fp-lunar-pw-worst")
    labels = {k: evaluate([claim], part, store, {"losses"})[0].label for k, part in summaries.items()}
    assert labels[paper] == "" and "substitute loss network" in labels[other]


def test_how_often_a_run_saves_its_state_is_not_a_setting(gs):
    profile = get_profile("smoke")
    default = single(profile, [0], None)
    other = single(profile.with_overrides({"transfer.checkpoint_every": 2}), [0], None)
    assert _mike_encoders(default) != _mike_encoders(other)  # different runs ...
    plan_documents(gs.reset(), default, _mike_results(set(), set()))
    plan_documents(gs, other, _mike_results(set(), set()))
    settings = split_by_setting(load(gs.flush(), "smoke"), "MIKE")
    assert len(settings) == 1  # ... of the same experiment
