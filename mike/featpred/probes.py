"""The seven MLP probes on frozen embeddings (Section VI); the lowest validation loss is the one reported.

As in the original code: LeakyReLU between layers, a linear output, trained with MSE — on the (x, y)
position for LunarLander and on one-hot labels for classification. Test metric: mean Euclidean distance
(positions) or accuracy (classes), of each probe's best-validation weights.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mike.training.epochs import EpochSpec, fit_epochs

PROBE_HIDDEN: tuple[tuple[int, ...], ...] = ((), (32,), (64,), (32, 32), (64, 32), (64, 64), (128, 128))


def make_probe(z: int, hidden: tuple[int, ...], outputs: int) -> nn.Sequential:
    layers, width = [], z
    for h in hidden:
        layers += [nn.Linear(width, h), nn.LeakyReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, outputs))


def targets_of(labels: torch.Tensor, classes: int | None) -> torch.Tensor:
    """Regression targets: positions as they are, classes one-hot."""
    return labels.float() if classes is None else F.one_hot(labels, classes).float()


def probe_metric(predictions: torch.Tensor, labels: torch.Tensor, classes: int | None) -> float:
    if classes is None:
        return (predictions - labels).norm(dim=1).mean().item()  # mean Euclidean distance
    return (predictions.argmax(dim=1) == labels).float().mean().item()  # accuracy


def constant_metric(train_labels: torch.Tensor, test_labels: torch.Tensor, classes: int | None) -> float:
    """The test metric of the best input-free guess (mean position, or majority class): the floor to beat."""
    if classes is None:
        guess = train_labels.float().mean(0, keepdim=True).expand(len(test_labels), -1)
    else:
        guess = F.one_hot(train_labels.bincount(minlength=classes).argmax(), classes).float()
        guess = guess.expand(len(test_labels), -1)
    return probe_metric(guess, test_labels, classes)


def train_probes(
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    classes: int | None,
    spec: EpochSpec,
    seed: int,
    on_probe: Callable[[int, dict], None] | None = None,
) -> dict:
    """Train every probe on (embeddings, labels); return all of them and the selected one."""
    (x, labels), (x_test, labels_test) = train, test
    y = targets_of(labels, classes)
    probes = []
    for k, hidden in enumerate(PROBE_HIDDEN):
        torch.manual_seed(seed * 100 + k)
        probe = make_probe(x.shape[1], hidden, y.shape[1])
        history = fit_epochs(
            probe, lambda idx, p=probe: F.mse_loss(p(x[idx]), y[idx]), len(x), spec, seed + k
        )
        probe.eval()
        with torch.no_grad():
            metric = probe_metric(probe(x_test), labels_test, classes)
        record = {
            "hidden": list(hidden),
            "val_loss": history.best_val_loss,
            "best_epoch": history.best_epoch,
            "epochs": len(history.val_loss),
            "test_metric": metric,
        }
        probes.append(record)
        if on_probe:
            on_probe(k, record)
    chosen = min(range(len(probes)), key=lambda k: probes[k]["val_loss"])
    return {
        "probes": probes,
        "selected": chosen,
        "test_metric": probes[chosen]["test_metric"],
        "constant_metric": constant_metric(labels, labels_test, classes),
    }
