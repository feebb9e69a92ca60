"""Eq. 1 against hand computation, masking, routing cost, and gradient flow through frozen teachers."""

import math

import pytest
import torch
import torch.nn.functional as F

from mike.losses import mike_loss, pixel_loss
from mike.models.segmenter import Segmenter
from mike.schedules import LossWeights


class ToyTeacher(torch.nn.Module):
    """Two 'layers' with known activations: φ0(x) = x, φ1(x) = 2x. Counts the samples it is run on."""

    layer_names = ["a", "b"]

    def __init__(self):
        super().__init__()
        self.samples_seen = 0

    def forward_features(self, x):
        self.samples_seen += x.shape[0]
        return [x, 2 * x]


def sq(a, b):
    return (math.tanh(a) - math.tanh(b)) ** 2


def test_single_teacher_matches_hand_computation():
    # two samples, each a 1×1×2 "image"
    x = torch.tensor([[[[0.5, -1.0]]], [[[2.0, 0.0]]]])
    x_bar = torch.tensor([[[[0.0, -1.0]]], [[[1.0, 0.5]]]])
    weights = LossWeights(0.0, ((0.25, 0.75),))
    loss, record = mike_loss([ToyTeacher()], x, x_bar, torch.ones(2, 1, dtype=torch.bool), weights)
    # layer errors: mean over the 2 elements, then mean over the 2 samples
    e0 = ((sq(0.5, 0.0) + sq(-1.0, -1.0)) / 2 + (sq(2.0, 1.0) + sq(0.0, 0.5)) / 2) / 2
    e1 = ((sq(1.0, 0.0) + sq(-2.0, -2.0)) / 2 + (sq(4.0, 2.0) + sq(0.0, 1.0)) / 2) / 2
    assert loss.item() == pytest.approx(0.25 * e0 + 0.75 * e1, rel=1e-6)
    assert [r.tolist() for r in record] == [pytest.approx([e0, e1], rel=1e-6)]


def test_masking_averages_each_teacher_over_its_own_samples_only():
    x = torch.tensor([[[[1.0]]], [[[0.0]]], [[[-1.0]]]])
    x_bar = torch.tensor([[[[0.0]]], [[[0.5]]], [[[1.0]]]])
    membership = torch.tensor([[True, False], [True, False], [False, True]])
    weights = LossWeights(0.0, ((0.25, 0.25), (0.25, 0.25)))
    loss, record = mike_loss([ToyTeacher(), ToyTeacher()], x, x_bar, membership, weights)
    t0 = [(sq(1, 0) + sq(0, 0.5)) / 2, (sq(2, 0) + sq(0, 1)) / 2]  # samples 0, 1 only
    t1 = [sq(-1, 1), sq(-2, 2)]  # sample 2 only
    assert loss.item() == pytest.approx(0.25 * sum(t0) + 0.25 * sum(t1), rel=1e-6)
    assert record[0].tolist() == pytest.approx(t0) and record[1].tolist() == pytest.approx(t1)


def test_pixel_warmup_term_and_absent_teacher():
    x, x_bar = torch.zeros(2, 1, 1, 2), torch.full((2, 1, 1, 2), 0.5)
    membership = torch.tensor([[True, False], [True, False]])
    weights = LossWeights(1.0, ((0.0, 0.0), (0.0, 0.0)))
    loss, record = mike_loss([ToyTeacher(), ToyTeacher()], x, x_bar, membership, weights)
    assert loss.item() == pytest.approx(0.25)  # MSE of 0.5 everywhere
    assert all(math.isnan(v) for v in record[1].tolist())  # teacher 1 had no sample in the batch
    assert pixel_loss(x, x_bar).item() == pytest.approx(0.25)


def test_routed_equals_naive_and_costs_one_teacher_pass():
    torch.manual_seed(0)
    teachers = [Segmenter((8, 8, 8, 8), 1).freeze() for _ in range(3)]
    x, x_bar = torch.rand(6, 3, 64, 64), torch.rand(6, 3, 64, 64)
    membership = torch.zeros(6, 3, dtype=torch.bool)
    membership[torch.arange(6), torch.tensor([0, 0, 1, 1, 2, 2])] = True
    w = 1.0 / 54
    weights = LossWeights(0.0, tuple(tuple(w for _ in range(18)) for _ in range(3)))
    routed, _ = mike_loss(teachers, x, x_bar, membership, weights, routing="routed")
    naive, _ = mike_loss(teachers, x, x_bar, membership, weights, routing="naive")
    assert routed.item() == pytest.approx(naive.item(), rel=1e-5)

    toys = [ToyTeacher() for _ in range(3)]
    toy_weights = LossWeights(0.0, tuple((1 / 6, 1 / 6) for _ in range(3)))
    mike_loss(toys, x, x_bar, membership, toy_weights, routing="routed")
    assert sum(t.samples_seen for t in toys) == 2 * 6  # x and x̄ once each: a 1-teacher step's cost
    toys = [ToyTeacher() for _ in range(3)]
    mike_loss(toys, x, x_bar, membership, toy_weights, routing="naive")
    assert sum(t.samples_seen for t in toys) == 3 * 2 * 6


def test_gradients_reach_the_reconstruction_but_not_the_frozen_teacher():
    torch.manual_seed(0)
    teacher = Segmenter((8, 8, 8, 8), 1).freeze()
    x = torch.rand(2, 3, 64, 64)
    x_bar = torch.rand(2, 3, 64, 64, requires_grad=True)
    weights = LossWeights(0.0, (tuple(1 / 18 for _ in range(18)),))
    loss, _ = mike_loss([teacher], x, x_bar, torch.ones(2, 1, dtype=torch.bool), weights)
    loss.backward()
    assert x_bar.grad is not None and x_bar.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.training  # a frozen teacher keeps eval-mode BatchNorm


def test_segmentation_loss_hand_computed():
    from mike.losses import segmentation_loss

    logits = torch.tensor([[[[0.0, 2.0]]]])  # one class channel, two pixels
    masks = torch.tensor([[[[1.0, 0.0]]]])
    p = [0.5, 1 / (1 + math.exp(-2.0))]
    bce = (-math.log(p[0]) - math.log(1 - p[1])) / 2
    dice = 1 - (2 * (p[0] * 1) + 1) / (p[0] + p[1] + 1 + 1)
    assert segmentation_loss(logits, masks).item() == pytest.approx(bce + dice, rel=1e-6)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_stacked_teachers_give_the_routed_loss_record_and_gradient(layout):
    """Also with teachers and images in channels-last layout, as `prepare` puts them on every device."""
    torch.manual_seed(0)
    from mike.models.stacked import StackedTeachers

    teachers = [Segmenter((8, 8, 8, 8), 1).freeze().to(memory_format=layout) for _ in range(4)]
    for t in teachers:  # running statistics unlike the initial ones: eval-mode BatchNorm must use each
        for m in t.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    x = torch.rand(7, 3, 64, 64).contiguous(memory_format=layout)
    membership = torch.zeros(7, 4, dtype=torch.bool)
    membership[torch.arange(7), torch.tensor([0, 0, 0, 1, 2, 2, 0])] = True  # teacher 3 has none
    stacked = StackedTeachers(teachers)
    # vmap cannot answer CUDA batch norm's "contiguous in channels-last?": the ensemble keeps the standard one
    assert all(v.is_contiguous() for v in [*stacked.params.values(), *stacked.buffers.values()])
    w = tuple(tuple((k + 1) / 400 for k in range(18)) for _ in range(4))
    weights = LossWeights(0.0, w)
    grads, results = [], []
    for routing, ensemble in (("routed", teachers), ("stacked", stacked)):
        x_bar = torch.rand(7, 3, 64, 64, generator=torch.Generator().manual_seed(1))
        x_bar = x_bar.contiguous(memory_format=layout).requires_grad_()
        loss, record = mike_loss(ensemble, x, x_bar, membership, weights, routing=routing)
        loss.backward()
        grads.append(x_bar.grad)
        results.append((loss.item(), torch.stack(record)))
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-5)
    assert torch.allclose(results[1][1], results[0][1], rtol=1e-5, equal_nan=True)
    assert torch.isnan(results[1][1][3]).all()  # no sample, no error
    assert torch.allclose(grads[1], grads[0], rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_segmentation_loss_written_out_gradient_is_autograds(layout):
    """The loss's own backward against autograd through the plain formula, in float64, with binary and soft
    targets, in both layouts; and torch's numerical gradient check of it."""
    from mike.losses import segmentation_loss

    def plain(logits, masks):
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (p * masks).sum(dim=(0, 2, 3)) + 1) / ((p + masks).sum(dim=(0, 2, 3)) + 1)
        return F.binary_cross_entropy_with_logits(logits, masks) + dice.mean()

    g = torch.Generator().manual_seed(0)
    for masks in ((torch.rand(4, 3, 6, 5, generator=g) > 0.7).double(), torch.rand(4, 3, 6, 5, generator=g)):
        logits = (torch.randn(4, 3, 6, 5, generator=g, dtype=torch.float64) * 4).contiguous(
            memory_format=layout
        )
        masks = masks.contiguous(memory_format=layout)
        ours = logits.clone().requires_grad_()
        theirs = logits.clone().requires_grad_()
        (3 * segmentation_loss(ours, masks)).backward()
        (3 * plain(theirs, masks)).backward()
        assert segmentation_loss(logits, masks).item() == pytest.approx(plain(logits, masks).item(), rel=1e-6)
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-6, atol=1e-9)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: segmentation_loss(v, masks[:2, :, :4, :4]).double(), (x,))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_layer_error_written_out_gradient_is_autograds(layout):
    """Each sample's mean of (t − tanh o)² (mike.losses._SquashedError): the plain formula's value and, in
    float64, its gradient through autograd, in both layouts (the gradient keeps the map's layout); and
    torch's numerical gradient check of it."""
    from mike.losses import _SquashedError

    g = torch.Generator().manual_seed(0)
    outputs = (torch.randn(4, 5, 6, 3, generator=g, dtype=torch.float64) * 2).contiguous(memory_format=layout)
    targets = torch.tanh(torch.randn(4, 5, 6, 3, generator=g, dtype=torch.float64))
    weights = torch.randn(4, generator=g, dtype=torch.float64)
    ours, theirs = outputs.clone().requires_grad_(), outputs.clone().requires_grad_()
    value = _SquashedError.apply(ours, targets)
    plain = (targets - torch.tanh(theirs)).pow(2).mean(dim=(1, 2, 3))
    torch.testing.assert_close(value, plain, rtol=1e-12, atol=0)
    (value * weights).sum().backward()
    (plain * weights).sum().backward()
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-10, atol=1e-12)
    assert ours.grad.is_contiguous(memory_format=layout)
    assert torch.autograd.gradcheck(
        lambda o: _SquashedError.apply(o, targets), (outputs.clone().requires_grad_(),)
    )
