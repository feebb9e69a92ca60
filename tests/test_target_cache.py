"""The teachers' targets computed once per transfer run give the numbers of computing them every step."""

import pytest
import torch

from mike.fast_tanh import tanh
from mike.models.autoencoder import Autoencoder
from mike.models.folding import folded_for_inference
from mike.models.segmenter import Segmenter
from mike.profiles import get_profile
from mike.schedules import make_schedule
from mike.training.loop import fit, prepare, to_float_images
from mike.training.specs import TrainSpec
from mike.training.target_cache import TargetCache
from mike.training.transfer import QuerySet, mike_step_loss, train_mike

CPU = torch.device("cpu")
SMOKE = get_profile("smoke")


def teacher(seed: int) -> Segmenter:
    torch.manual_seed(seed)
    return Segmenter(SMOKE.segmenter_widths, SMOKE.segmenter_expand)


def autoencoder() -> Autoencoder:
    torch.manual_seed(7)
    return Autoencoder(SMOKE.autoencoder_widths, SMOKE.autoencoder_expand)


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def test_a_one_teacher_run_is_bit_identical_with_and_without_the_cache():
    """21 images in batches of 8: the last cached batch overlaps the one before it, as steps never do."""
    query = QuerySet(images(21), torch.ones(21, 1, dtype=torch.bool))
    spec = TrainSpec(steps=6, batch_size=8, lr=2e-3)
    schedule = make_schedule("uniform", [18], spec.steps)
    cached = train_mike(autoencoder(), [teacher(0)], query, spec, schedule, seed=3)
    ae = autoencoder()
    every_step = mike_step_loss(ae, [teacher(0)], query, schedule, "routed", CPU)  # no target_batch
    fit(ae, every_step, len(query), spec, seed=3)
    for name, value in cached.state_dict().items():
        assert torch.equal(value, ae.state_dict()[name]), name


def test_cached_targets_are_each_images_own_in_any_batch():
    t = folded_for_inference(prepare(teacher(1), CPU))
    pictures = images(30)
    membership = torch.zeros(30, 2, dtype=torch.bool)
    membership[:20, 0] = membership[12:, 1] = True  # 8 images belong to both teachers
    as_input = lambda b: to_float_images(b, CPU)  # noqa: E731
    cache = TargetCache.build([t, t], pictures, membership, 8, as_input)
    idx = torch.tensor([29, 3, 15, 0, 19, 12])
    got = cache.for_batch(idx, membership[idx])
    for n in range(2):
        own = idx[membership[idx, n]]
        with torch.no_grad():
            direct = [tanh(f) for f in t.forward_features(as_input(pictures[own]))]
        assert len(got[n]) == 18
        for cached, computed in zip(got[n], direct, strict=True):
            assert cached.shape == computed.shape
            torch.testing.assert_close(cached, computed, rtol=0, atol=1e-6)


def test_teachers_beyond_the_budget_are_computed_every_step_with_the_same_loss():
    teachers = [teacher(s) for s in (1, 2, 3)]
    pictures = images(24)
    membership = torch.zeros(24, 3, dtype=torch.bool)
    membership[:8, 0] = membership[8:16, 1] = membership[16:, 2] = True
    as_input = lambda b: to_float_images(b, CPU)  # noqa: E731
    folded = [folded_for_inference(prepare(t, CPU)) for t in teachers]
    one_teacher = TargetCache.build(folded[:1], pictures, membership[:, :1], 8, as_input).cached_bytes()
    cache = TargetCache.build(folded, pictures, membership, 8, as_input, budget_bytes=one_teacher * 2)
    assert [layers is not None for layers in cache.layers] == [True, True, False]
    assert cache.cached_bytes() == 2 * one_teacher

    query = QuerySet(pictures, membership)
    schedule = make_schedule("uniform", [18] * 3, 10)
    idx = torch.tensor([0, 9, 17, 5, 20, 11, 2, 23])
    losses = []
    for target_batch in (None, 8):
        ae = autoencoder()
        loss, metrics = mike_step_loss(
            ae, teachers, query, schedule, "routed", CPU, target_batch=target_batch
        )(0, idx)
        losses.append((loss.item(), {k: float(v) for k, v in metrics.items()}))
    assert losses[1][0] == pytest.approx(losses[0][0], rel=1e-6)
    assert losses[1][1] == pytest.approx(losses[0][1], rel=1e-5)


def test_layer_errors_without_targets_need_the_images():
    from mike.losses import per_sample_layer_errors

    teacher = Segmenter((8, 8, 8, 8), 1).freeze()
    with pytest.raises(ValueError, match="needs x when the targets are not given"):
        per_sample_layer_errors(teacher, None, torch.rand(2, 3, 64, 64))
