"""LunarLander collection, SVHN / STL-10 local files, the epoch loop with early stopping, probe selection."""

import io

import numpy as np
import pytest
import torch

from mike.data import lunar_lander as ll
from mike.data.photo_sets import check_files, load_stl10, load_svhn
from mike.data.tri_class import DatasetError
from mike.featpred.probes import PROBE_HIDDEN, constant_metric, make_probe, probe_metric, train_probes
from mike.training.epochs import EpochSpec, fit_epochs, split_indices
from tests.helpers import fake_stl10, fake_svhn

TINY = ll.LunarLanderConfig(rollouts=2, steps=20, seed=3)


def test_lunar_lander_is_deterministic_and_64px():
    a, b = ll.generate(TINY, "autoencoder"), ll.generate(TINY, "autoencoder")
    assert a.images.shape == (40, 3, 64, 64) and a.images.dtype == torch.uint8
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    other = ll.generate(TINY, "probe_train")  # another collection: other rollouts
    assert not torch.equal(other.images[:5], a.images[:5])


def test_labels_are_the_state_shown_and_the_original_offset_is_one_step():
    fixed = ll.generate(TINY, "autoencoder").labels
    original = ll.generate(ll.LunarLanderConfig(**{**vars(TINY), "label_offset": 1}), "autoencoder").labels
    # The original stored the observation after the step: frame t got the label of frame t+1.
    rollout = slice(0, TINY.steps - 1)
    assert torch.allclose(original[rollout], fixed[1 : TINY.steps])
    assert not torch.allclose(original[rollout], fixed[rollout])
    assert fixed[0, 1] > 1.0  # every rollout starts with the lander high on the screen


def test_probe_collections_drop_off_screen_frames():
    labels = np.array([[0.0, 0.0], [1.0, 1.5], [-1.01, 0.5], [0.5, -0.51], [0.2, 1.6]], dtype=np.float32)
    assert ll.on_screen(labels).tolist() == [True, True, False, False, False]
    cfg = ll.LunarLanderConfig(rollouts=3, steps=150, seed=0)
    kept = ll.generate(cfg, "probe_test")
    assert ll.on_screen(kept.labels.numpy()).all()
    assert len(kept) <= cfg.rollouts * cfg.steps


def test_lunar_lander_cache_is_reused(tmp_path, monkeypatch):
    first = ll.lunar_lander(TINY, "probe_test", tmp_path)
    monkeypatch.setattr(ll, "generate", lambda *a: pytest.fail("generated twice"))
    assert torch.equal(ll.lunar_lander(TINY, "probe_test", tmp_path).images, first.images)


def test_svhn_from_local_files_is_wrap_padded_to_64(tmp_path):
    root = fake_svhn(tmp_path / "svhn")
    train = load_svhn(root, "probe_train")
    assert train.images.shape == (6, 3, 64, 64) and train.labels.max() <= 9
    assert torch.equal(train.images[..., 16:48, 16:48], train.images[..., 16:48, 16:48])
    assert torch.equal(train.images[..., 0, 16:48], train.images[..., 32, 16:48])  # wrapped, not zeros
    assert load_svhn(root, "autoencoder", limit=4).labels is None
    assert len(load_svhn(root, "autoencoder", limit=4)) == 4


def test_stl10_from_local_files(tmp_path):
    root = fake_stl10(tmp_path)
    test = load_stl10(root, "probe_test")
    assert test.images.shape == (4, 3, 96, 96) and test.labels.tolist() == [0, 1, 2, 3]


def test_missing_or_corrupt_photo_files_are_named(tmp_path):
    with pytest.raises(DatasetError, match="extra_32x32.mat"):
        check_files("svhn", tmp_path)
    with pytest.raises(DatasetError, match="unlabeled_X.bin"):
        check_files("stl10", tmp_path)
    root = fake_svhn(tmp_path / "svhn")
    check_files("svhn", root)
    (root / "test_32x32.mat").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="corrupt SVHN file.*test_32x32.mat"):
        load_svhn(root, "probe_test")


def _truncate(path, keep):
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: (r / "test_32x32.mat").write_bytes(b"garbage"), "corrupt SVHN file: .*test_32x32.mat"),
        (lambda r: _truncate(r / "train_32x32.mat", 300), "corrupt SVHN file: .*train_32x32.mat"),
        (lambda r: _truncate(r / "extra_32x32.mat", 0), "corrupt SVHN file: .*extra_32x32.mat"),
    ],
    ids=["foreign", "truncated", "empty"],
)
def test_a_damaged_svhn_file_is_refused_when_planning(tmp_path, damage, message):
    root = fake_svhn(tmp_path / "svhn")
    damage(root)
    with pytest.raises(DatasetError, match=message):
        check_files("svhn", root)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: _truncate(f / "test_X.bin", 1000), "test_X.bin .*not a whole number of images"),
        (lambda f: _truncate(f / "train_y.bin", 2), "train_y.bin \\(2 labels for 4 images\\)"),
        (lambda f: _truncate(f / "unlabeled_X.bin", 0), "unlabeled_X.bin \\(0 bytes"),
    ],
    ids=["truncated images", "missing labels", "empty"],
)
def test_a_damaged_stl10_file_is_refused_when_planning(tmp_path, damage, message):
    root = fake_stl10(tmp_path / "stl")
    check_files("stl10", root)
    damage(root / "stl10_binary")
    with pytest.raises(DatasetError, match=message):
        check_files("stl10", root)


def test_early_stopping_restores_the_best_epoch():
    model = torch.nn.Module()
    model.w = torch.nn.Parameter(torch.zeros(()))
    val_script = [5.0, 3.0, 1.0, 2.0, 4.0, 6.0, 0.5]  # best at epoch 2, then 3 epochs without improvement
    train_batches, weights = [0], []

    def loss(idx):  # 16 training samples in batches of 4: four training batches per epoch
        if model.training:
            train_batches[0] += 1
            return (model.w - 10.0) ** 2  # every step moves w
        return model.w * 0 + val_script[(train_batches[0] - 1) // 4]

    spec = EpochSpec(max_epochs=7, patience=3, batch_size=4)
    history = fit_epochs(model, loss, 20, spec, seed=0, on_epoch=lambda k, m: weights.append(model.w.item()))
    assert split_indices(20, 0.2)[1].tolist() == [16, 17, 18, 19]  # the last 20% validates
    assert history.best_epoch == 2 and history.val_loss == val_script[:6]  # stopped before epoch 6
    assert model.w.item() == pytest.approx(weights[2])  # the best epoch's weights are restored
    assert len(history.cpu_seconds) == len(history.wall_seconds) == 6


def test_probe_metrics_by_hand():
    assert constant_metric(torch.tensor([1, 1, 2]), torch.tensor([1, 2]), 3) == 0.5  # majority class 1
    assert (
        probe_metric(torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[3.0, 4.0], [1.0, 1.0]]), None)
        == 2.5
    )
    assert probe_metric(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]), 2) == 0.5


def test_probe_architectures_and_selection():
    assert [
        len([m for m in make_probe(8, h, 2) if isinstance(m, torch.nn.Linear)]) for h in PROBE_HIDDEN
    ] == [1, 2, 2, 3, 3, 3, 3]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 8, generator=g)
    labels = x[:, :2] * 0.5 + 0.1  # linear: the probe without hidden layers can fit it
    spec = EpochSpec(max_epochs=60, patience=10, batch_size=32, lr=1e-2)
    out = train_probes((x[:150], labels[:150]), (x[150:], labels[150:]), None, spec, seed=0)
    assert len(out["probes"]) == 7
    val = [p["val_loss"] for p in out["probes"]]
    assert out["selected"] == val.index(min(val))
    assert out["test_metric"] == out["probes"][out["selected"]]["test_metric"]
    assert out["test_metric"] < 0.1 < out["constant_metric"]  # far better than guessing the mean


class _MemoryCheckpointer:
    """Keeps the newest checkpoint as bytes, as the run store does: later steps cannot change a saved one."""

    def __init__(self):
        self.saved: bytes | None = None

    def load(self):
        return None if self.saved is None else torch.load(io.BytesIO(self.saved), weights_only=False)

    def save(self, state):
        buffer = io.BytesIO()
        torch.save(state, buffer)
        self.saved = buffer.getvalue()


@pytest.mark.parametrize("target", [2.5, 9.0], ids=["best-before-the-stop", "best-after-the-resume"])
def test_a_stopped_and_resumed_fit_ends_with_the_uninterrupted_weights(target):
    spec = EpochSpec(max_epochs=6, patience=6, batch_size=4, lr=0.5, checkpoint_every=1)

    def fresh():
        model = torch.nn.Module()
        model.w = torch.nn.Parameter(torch.zeros(()))
        return model

    def loss_of(model):  # w climbs towards 10; validation prefers w near `target`
        return lambda idx: (model.w - 10.0) ** 2 if model.training else (model.w - target).abs()

    whole = fresh()
    expected = fit_epochs(whole, loss_of(whole), 20, spec, seed=0)

    class Stop(Exception):
        pass

    def stop_at_3(epoch, metrics):
        if epoch == 3:
            raise Stop

    checkpoints, first = _MemoryCheckpointer(), fresh()
    with pytest.raises(Stop):
        fit_epochs(first, loss_of(first), 20, spec, seed=0, on_epoch=stop_at_3, checkpointer=checkpoints)
    second = fresh()
    history = fit_epochs(second, loss_of(second), 20, spec, seed=0, checkpointer=checkpoints)
    assert history.best_epoch == expected.best_epoch and history.val_loss == expected.val_loss
    assert (expected.best_epoch < 3) == (target == 2.5)  # the two cases are the two cases
    assert second.w.item() == whole.w.item()  # the best epoch's weights, whether saved before or after
