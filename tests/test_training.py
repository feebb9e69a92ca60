"""Training loop: deterministic batches, and a resumed run ends exactly where an uninterrupted one does."""

import copy

import pytest
import torch

from mike.data.tri_class import TriClassData
from mike.models.segmenter import Segmenter
from mike.training.loop import TrainSpec, batch_for_step
from mike.training.teacher import train_teacher


class MemoryCheckpointer:
    def __init__(self):
        self.state = None

    def load(self):
        return copy.deepcopy(self.state)

    def save(self, state):
        self.state = copy.deepcopy(state)


class Interrupt(Exception):
    pass


def tiny_task():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (20, 3, 64, 64), dtype=torch.uint8, generator=g)
    return TriClassData("T", "train", images, torch.rand(20, 3, 64, 64, generator=g) > 0.8)


def test_batches_cover_each_epoch_once_and_depend_only_on_seed_and_step():
    seen = torch.cat([batch_for_step(20, 6, step, seed=1) for step in range(3)])
    assert len(set(seen.tolist())) == 18  # 3 full batches of 6 from one permutation, no repeats
    assert torch.equal(batch_for_step(20, 6, 4, 1), batch_for_step(20, 6, 4, 1))
    assert not torch.equal(batch_for_step(20, 6, 4, 1), batch_for_step(20, 6, 4, 2))


def test_resumed_training_matches_uninterrupted():
    data, spec = tiny_task(), TrainSpec(steps=6, batch_size=4, checkpoint_every=2)
    torch.manual_seed(0)
    straight = train_teacher(Segmenter((8, 8, 8, 8), 1), data, spec, seed=0)

    checkpoints = MemoryCheckpointer()

    def stop_after_step_4(step, metrics):
        if step == 4:
            raise Interrupt

    torch.manual_seed(0)
    with pytest.raises(Interrupt):
        train_teacher(Segmenter((8, 8, 8, 8), 1), data, spec, 0, stop_after_step_4, checkpointer=checkpoints)
    assert checkpoints.state["step"] == 3  # last checkpoint before the interruption
    torch.manual_seed(123)  # a different initialisation: everything must come from the checkpoint
    steps_run = []
    resumed = train_teacher(
        Segmenter((8, 8, 8, 8), 1), data, spec, 0, lambda s, m: steps_run.append(s), checkpointer=checkpoints
    )
    assert steps_run == [4, 5]
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
