"""IoU on hand-made masks."""

import math

import pytest
import torch

from mike.metrics import IoUAccumulator, iou, normalised_iou


def logits_from(pred):
    return torch.where(pred.bool(), 5.0, -5.0)


def test_iou_hand_made():
    truth = torch.zeros(1, 3, 4, 4, dtype=torch.bool)
    pred = torch.zeros(1, 3, 4, 4, dtype=torch.bool)
    truth[0, 0, :2, :2] = True  # 4 pixels
    pred[0, 0, :2, :3] = True  # 6 pixels, 4 overlap → 4/6
    truth[0, 1, 0, 0] = True  # 1 pixel, predicted nothing → 0/1
    # class 2: nothing anywhere → skipped
    assert iou(logits_from(pred), truth) == pytest.approx((4 / 6 + 0.0) / 2)


def test_iou_is_dataset_level_not_per_image():
    acc = IoUAccumulator(1)
    t1 = torch.zeros(1, 1, 2, 2, dtype=torch.bool)
    t1[..., 0, 0] = True
    acc.update(logits_from(t1), t1)  # image 1: perfect, 1 pixel
    t2 = torch.ones(1, 1, 2, 2, dtype=torch.bool)
    acc.update(logits_from(torch.zeros_like(t2)), t2)  # image 2: misses 4 pixels
    assert acc.value() == pytest.approx(1 / 5)  # not the per-image mean 0.5
    assert math.isclose(acc.per_class()[0].item(), 0.2)


def test_empty_everything_is_perfect_and_normalisation():
    empty = torch.zeros(2, 3, 4, 4, dtype=torch.bool)
    assert iou(logits_from(empty), empty) == 1.0
    assert normalised_iou(0.3, 0.6) == pytest.approx(0.5)
