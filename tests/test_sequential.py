"""Sequential transfer (MIKE Section 5): EWC holds what the earlier teacher taught, the plan chains the
steps, and the two claims on generated forgetting matrices that truly hold, truly fail, or have too few
seeds."""

import pytest
import torch

from mike.data.tasks import TASK_CODES
from mike.data.tri_class import TriClassData
from mike.models.autoencoder import Autoencoder
from mike.models.segmenter import Segmenter
from mike.profiles import get_profile
from mike.training.ewc import parameters_of
from mike.training.loop import TrainSpec
from mike.training.sequential import consolidate, train_step
from mike.training.transfer import QuerySet
from suites.registry import SuitePaths, build_plan
from tests.run_documents import SYNTHETIC, TRAIN, noise, served, teachers

SMALL = get_profile("small")


def _query(seed: int) -> QuerySet:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (16, 3, 64, 64), generator=g, dtype=torch.uint8)
    return QuerySet.from_tasks([TriClassData("BTS", "train2017", images, torch.zeros(16, 3, 64, 64).bool())])


def test_ewc_holds_the_parameters_the_first_teacher_needs():
    torch.manual_seed(0)
    first, second = Segmenter((8, 8, 8, 8), 1), Segmenter((8, 8, 8, 8), 1)
    spec = TrainSpec(steps=6, batch_size=8, lr=1e-2)
    ae = Autoencoder((8, 8, 8, 8, 8), 1)
    train_step(ae, first, _query(0), spec, seed=0)
    after_first = parameters_of(ae)
    penalty = consolidate(ae, first, _query(0), None, samples=8, seed=0)
    assert penalty.fisher.keys() == after_first.keys()
    assert all(bool((f >= 0).all()) for f in penalty.fisher.values())
    assert penalty(ae).item() == pytest.approx(0.0, abs=1e-12)  # at its own anchor
    moved = {}
    for lam in (0.0, 1e7):
        model = Autoencoder((8, 8, 8, 8, 8), 1)
        model.load_state_dict(ae.state_dict())
        train_step(model, second, _query(1), spec, seed=1, penalty=penalty, ewc_lambda=lam)
        # how far it moved where the first teacher's loss is sensitive: the Fisher-weighted distance (Adam
        # moves every parameter by about lr a step, so an unweighted distance says little)
        moved[lam] = penalty(model).item()
    assert moved[1e7] < 0.5 * moved[0.0], moved


def test_sequential_plan_chains_each_step_on_the_previous_one():
    plan = build_plan("sequential", SMALL, [0], SuitePaths())
    steps = [p for p in plan if p.spec.stage == "sequential"]
    sequence = list(SMALL.section5.sequential_tasks)
    lambdas = (0.0, *SMALL.section5.ewc_lambdas)
    assert len(steps) == len(lambdas) * len(sequence)
    for lam in lambdas:
        chain = sorted(
            (p for p in steps if p.spec.config["ewc_lambda"] == lam), key=lambda p: p.spec.config["step"]
        )
        assert [p.spec.config["tasks"][0] for p in chain] == sequence
        assert chain[0].spec.config["previous"] is None and len(chain[0].deps) == 1
        for before, after in zip(chain, chain[1:], strict=False):
            assert after.spec.config["previous"] == before.spec.hash and before in after.deps
        assert ("fisher_samples" in chain[0].spec.config) == (lam > 0)
    eleven = {p.spec.hash for p in build_plan("eleven", SMALL, [0], SuitePaths())}
    joint = sorted(
        (p for p in plan if p.spec.stage == "transfer"), key=lambda p: p.spec.config["train"]["steps"]
    )
    assert len(joint) == 2 and joint[0].spec.hash in eleven  # the joint reference: eleven's encoder
    # ... and one as long as the whole sequence (every step's batches), for a comparison at equal batches
    assert joint[1].spec.config["train"]["steps"] == len(sequence) * joint[0].spec.config["train"]["steps"]
    assert joint[1].spec.config["tasks"] == sequence and joint[1].spec.hash not in eleven
    downstream = [p for p in plan if p.spec.stage == "downstream" and p.spec.hash not in eleven]
    assert len(downstream) == (len(lambdas) * len(sequence) + 1) * len(TASK_CODES)
    assert {p.spec.config["study"] for p in downstream} == {"sequential"}


@pytest.fixture(scope="module")
def gs(tmp_path_factory):
    with served(tmp_path_factory.mktemp("sequential-claims")) as store:
        yield store


SEQUENCE = list(TASK_CODES)


def _sequential_runs(
    gs, seeds, drop: dict, sequence=SEQUENCE, variants=("naive", "weak", "EWC", "stiff"), train=TRAIN
):
    """Forgetting matrices: a task reads 0.6 right after its teacher and loses drop[variant] by the end
    (linearly over the later steps); tasks not yet learned read 0.3. The λ are `small`'s grid: "weak"
    forgets as naive does unless drop names it."""
    lambdas = {"naive": 0.0, "weak": 10.0, "EWC": 100.0, "stiff": 1000.0}
    drop = {"weak": drop.get("naive", 0.0), **drop}
    for seed in seeds:
        teacher = teachers(gs, "small", seed)
        for variant in variants:
            previous, lam = None, lambdas[variant]
            for k, task in enumerate(sequence):
                config = {"tasks": [task], "sequence": sequence, "step": k, "teachers": [teacher[task]]}
                config |= {"previous": previous, "ewc_lambda": lam, "data": SYNTHETIC, "train": train}
                enc = gs.add("sequential", "small", seed, config, {"seconds_per_step": 0.1})
                previous = enc
                order = sequence + [t for t in TASK_CODES if t not in sequence]
                for j, target in enumerate(order):
                    later = (k - j) / max(len(sequence) - 1 - j, 1)
                    learned = 0.3 if variant == "stiff" and j > 0 else 0.6  # too stiff to learn more
                    value = 0.3 if j > k else learned - drop.get(variant, 0.0) * later
                    value += noise(0.005, variant, k, j, seed)
                    down = {"task": target, "encoder": enc, "teacher": teacher[target], "data": SYNTHETIC}
                    down |= {"train": train, "decoder": "fresh", "study": "sequential"}
                    gs.add("downstream", "small", seed, down, {"normalised_iou": value})


@pytest.mark.parametrize(
    "claim,drop,seeds,expected",
    [
        ("mike-s5-sequential-forgets", {"naive": 0.2, "EWC": 0.05}, (0, 1, 2), "holds"),
        ("mike-s5-sequential-forgets", {"naive": 0.0, "EWC": 0.0}, (0, 1, 2), "fails"),
        ("mike-s5-sequential-forgets", {"naive": 0.2, "EWC": 0.05}, (0, 1), "inconclusive"),
        ("mike-s5-ewc-mitigates", {"naive": 0.2, "EWC": 0.05}, (0, 1, 2), "holds"),
        ("mike-s5-ewc-mitigates", {"naive": 0.2, "EWC": 0.2}, (0, 1, 2), "fails"),
        ("mike-s5-ewc-mitigates", {"naive": 0.2, "EWC": 0.05}, (0, 1), "inconclusive"),
    ],
    ids=["forgets", "remembers", "forgets-two-seeds", "ewc-helps", "ewc-no-help", "ewc-helps-two-seeds"],
)
def test_sequential_claims(gs, claim, drop, seeds, expected):
    _sequential_runs(gs.reset(), seeds, drop)
    verdict = gs.verdict(claim)
    assert verdict.verdict == expected, verdict.measured
    assert verdict.n_seeds == len(seeds)
    if claim == "mike-s5-ewc-mitigates":  # the stiff λ forgets nothing, learns nothing: never counted
        assert "too stiff to learn" in verdict.measured and "EWC λ=1000" in verdict.measured


def test_runs_of_another_sequence_never_mix_into_the_profiles(gs):
    # The profile's sequence (all 11) remembers; a stray chain with an overridden, shorter sequence forgets
    # badly. Its steps hold other teachers, so the verdict is the profile sequence's alone.
    _sequential_runs(gs.reset(), (0, 1, 2), {"naive": 0.0})
    _sequential_runs(gs, (0, 1, 2), {"naive": 0.4}, sequence=["PHB", "DCH", "CTB"], variants=("naive",))
    verdict = gs.verdict("mike-s5-sequential-forgets")
    assert verdict.verdict == "fails", verdict.measured


def test_a_store_with_only_an_overridden_sequence_is_judged_on_it(gs):
    _sequential_runs(
        gs.reset(), (0, 1, 2), {"naive": 0.3}, sequence=["CTB", "PHB", "DCH"], variants=("naive",)
    )
    verdict = gs.verdict("mike-s5-sequential-forgets")
    assert verdict.verdict == "holds", verdict.measured
