"""Layer-weight schedules: sums, progression at regular intervals, pixel-wise warm-up, purity."""

import pytest

from mike.schedules import active_layer, last_layer_progressive, make_schedule, uniform


@pytest.mark.parametrize("counts", [(18,), (18, 18, 18), (3, 5)])
def test_uniform_weights_are_equal_and_sum_to_one(counts):
    w = uniform(7, counts)
    flat = [v for t in w.teachers for v in t]
    assert w.total() == pytest.approx(1.0)
    assert max(flat) == pytest.approx(min(flat))
    assert [len(t) for t in w.teachers] == list(counts)


def test_progressive_moves_one_layer_at_a_time_from_first_to_last():
    total, layers = 1800, 18
    actives = []
    for step in range(total):
        w = last_layer_progressive(step, (layers,), total)
        assert w.total() == pytest.approx(1.0)
        nonzero = [i for i, v in enumerate(w.teachers[0]) if v > 0]
        assert len(nonzero) == 1
        actives.append(nonzero[0])
    assert actives[0] == 0 and actives[-1] == layers - 1
    assert actives == sorted(actives)
    # regular intervals: every layer holds the weight for exactly total / layers steps
    assert all(actives.count(layer) == total // layers for layer in range(layers))
    assert active_layer(10**9, layers, total) == layers - 1


def test_progressive_splits_weight_across_teachers():
    w = last_layer_progressive(0, (18, 18), 100)
    assert w.teachers[0][0] == pytest.approx(0.5) and w.teachers[1][0] == pytest.approx(0.5)


def test_pixel_warmup_then_schedule_counts_from_end_of_warmup():
    schedule = make_schedule("progressive", (4,), total_steps=140, warmup_steps=40)
    for step in range(40):
        w = schedule(step)
        assert w.pixel == 1.0 and sum(w.teachers[0]) == 0.0
    assert schedule(40).teachers[0][0] == pytest.approx(1.0)  # progression starts at layer 0
    assert schedule(139).teachers[0][3] == pytest.approx(1.0)
    assert schedule(90) == schedule(90)  # a pure function of the step


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("cosine", (18,), 10)
