"""Metrics reach the callback for every step, in order, without a host transfer per step."""

import pytest
import torch

from mike.data.tri_class import TriClassData
from mike.models.segmenter import Segmenter
from mike.training.loop import LOG_EVERY, TrainSpec
from mike.training.step_log import StepLog
from mike.training.teacher import train_teacher


def test_step_log_hands_over_every_step_in_order_in_bursts():
    seen = []
    log = StepLog(lambda step, m: seen.append((step, m)), every=3)
    for step in range(7):
        log.add(step, {"loss": torch.tensor(step / 2), "nan": float("nan"), "n": step})
        assert len(seen) == (step + 1) // 3 * 3  # nothing until a burst is full
    log.flush()
    assert [s for s, _ in seen] == list(range(7))
    assert [m["loss"] for _, m in seen] == pytest.approx([k / 2 for k in range(7)])
    assert all(isinstance(m["loss"], float) and m["n"] == s for s, m in seen)


def test_fit_reports_the_loss_of_every_step_exactly_once():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (12, 3, 64, 64), dtype=torch.uint8, generator=g)
    data = TriClassData("T", "train", images, torch.rand(12, 3, 64, 64, generator=g) > 0.8)
    steps = LOG_EVERY + 3  # one full burst and a partial one flushed at the end
    seen = []
    torch.manual_seed(0)
    train_teacher(
        Segmenter((8, 8, 8, 8), 1),
        data,
        TrainSpec(steps=steps, batch_size=4),
        0,
        lambda s, m: seen.append((s, m["loss"])),
    )
    assert [s for s, _ in seen] == list(range(steps))
    assert all(loss > 0 for _, loss in seen)
