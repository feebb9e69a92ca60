"""The feature-prediction (`losses`) stages as run bodies: loss network, data collection, autoencoder, probes,
and Table II's supervised simple CNN.

The autoencoder run stores the embeddings of the probe collections (its encoder's mu) as a GridFS artifact;
the probe run trains the seven probes from that artifact alone. Trained coders are kept only when
`losses.keep_models` asks (a feature encoder is ~80 MB of weights).
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from benchmark.runs import RunContext
from benchmark.stages import Workspace, lists_to_tuples
from mike.data.cache import config_hash
from mike.data.labelled_images import LabelledImages
from mike.featpred.datasets import CLASSES, image_size, load_collection
from mike.featpred.loss_network import LossNetwork, alexnet_trunk, load_imagenet
from mike.featpred.probes import constant_metric, probe_metric, targets_of, train_probes
from mike.featpred.procedures import ProcedureAutoencoder
from mike.featpred.simple_cnn import SimpleCNN
from mike.featpred.substitute import SubstituteConfig, train_substitute
from mike.training.epochs import EpochSpec, fit_epochs
from mike.training.loop import TrainSpec


def _substitute_config(config: dict) -> SubstituteConfig:
    sub = dict(config["substitute"])
    return SubstituteConfig(**{**sub, "train": TrainSpec(**sub["train"])})


def loss_network_stage(ws: Workspace, config: dict, ctx: RunContext, deps: list[dict]) -> dict:
    """ImageNet AlexNet (recorded: path and digest) or the substitute (trained here, stored as lossnet.pt)."""
    if config["source"] == "imagenet":
        net = load_imagenet(Path(config["path"]))
        return {"source": "imagenet", "path": config["path"], "feature_size": net.feature_size(64)}
    net, accuracy = train_substitute(_substitute_config(config), ctx.log, ctx)
    ctx.add_artifact("lossnet.pt", {"state_dict": net.trunk.state_dict()})
    return {"source": "substitute", "validation_accuracy": accuracy, "feature_size": net.feature_size(64)}


def loss_network_of(ws: Workspace, run: dict) -> LossNetwork:
    key = run["meta"]["config_hash"]
    if key not in ws.models:
        if run["config"]["source"] == "imagenet":
            net = load_imagenet(Path(run["config"]["path"]))
        else:
            payload = torch.load(io.BytesIO(ws.store.artifact(run, "lossnet.pt")), weights_only=True)
            net = LossNetwork(_trunk(payload["state_dict"]), "substitute")
        ws.models[key] = net.to(ws.device)
    return ws.models[key]


def _trunk(state: dict) -> torch.nn.Sequential:
    trunk = alexnet_trunk()
    trunk.load_state_dict(state)
    return trunk


def collection_of(ws: Workspace, data: dict, collection: str) -> LabelledImages:
    """A dataset collection, loaded once per process (every procedure × z × seed reads the same ones)."""
    key = (config_hash(data), collection)
    if key not in ws.datasets:
        ws.datasets[key] = load_collection(data, collection, ws.cache_dir)
    return ws.datasets[key]


def collection_stage(ws: Workspace, config: dict, ctx: RunContext, deps: list[dict]) -> dict:
    data = collection_of(ws, config["data"], config["collection"])
    result = {"size": len(data), "image_size": data.images.shape[-1]}
    if data.labels is not None and data.labels.dtype.is_floating_point:
        result["label_min"], result["label_max"] = (
            data.labels.min(0).values.tolist(),
            data.labels.max(0).values.tolist(),
        )
    return result


def _floats(images: torch.Tensor, device: str) -> torch.Tensor:
    return images.to(device).float().div_(255.0)


@torch.no_grad()
def _embed(
    model: ProcedureAutoencoder, net: LossNetwork | None, images: torch.Tensor, device: str
) -> torch.Tensor:
    model.eval()
    out = []
    for s in range(0, len(images), 512):
        x = _floats(images[s : s + 512], device)
        y = net(x) if model.procedure.encoder == "F" else None
        out.append(model.embed(x, y).cpu())
    return torch.cat(out)


def autoencoder_stage(ws: Workspace, config: dict, ctx: RunContext, deps: list[dict]) -> dict:
    """One procedure at one z: train with early stopping, time every epoch, embed the probe collections.

    deps: the loss-network run (absent for I-I-PW, which never uses it).
    """
    net = loss_network_of(ws, deps[0]) if deps else None
    train = collection_of(ws, config["data"], "autoencoder")
    size = image_size(config["data"])
    feature_size = net.feature_size(size) if net is not None else 0
    torch.manual_seed(config["seed"])
    model = ProcedureAutoencoder(config["procedure"], size, config["z"], feature_size, config["gamma"]).to(
        ws.device
    )
    images = train.images

    def batch_loss(idx):
        return model.loss(_floats(images[idx], ws.device), net)[0]

    spec = EpochSpec(**lists_to_tuples(config["train"]))
    history = fit_epochs(model, batch_loss, len(images), spec, config["seed"], ctx.log, ctx)
    if config.get("study") != "convergence":  # Figure 9's runs are about convergence only: no probes
        embeddings = {}
        for collection in ("probe_train", "probe_test"):
            data = collection_of(ws, config["data"], collection)
            embeddings[collection] = {"x": _embed(model, net, data.images, ws.device), "labels": data.labels}
        ctx.add_artifact("embeddings.pt", embeddings)
    if config.get("keep_models"):
        ctx.add_artifact("model.pt", {"state_dict": model.cpu().state_dict()})
    n = len(history.wall_seconds)
    return {
        "epochs": n,
        "best_epoch": history.best_epoch,
        "best_val_loss": history.best_val_loss,
        "epoch_seconds": sum(history.wall_seconds) / n,
        "epoch_cpu_seconds": sum(history.cpu_seconds) / n,
        "loss_network": net.source if net is not None else "none",
        "train_size": len(images),
        "image_size": size,
        "feature_size": feature_size,
        "device": ws.device,
    }


def probe_stage(ws: Workspace, config: dict, ctx: RunContext, deps: list[dict]) -> dict:
    """The seven probes on the autoencoder's stored embeddings; reports the lowest-validation-loss probe."""
    (ae_run,) = deps
    payload = torch.load(io.BytesIO(ws.store.artifact(ae_run, "embeddings.pt")), weights_only=True)
    train, test = payload["probe_train"], payload["probe_test"]
    classes = CLASSES[config["data"]["dataset"]]
    spec = EpochSpec(**lists_to_tuples(config["train"]))

    def log(k, record):
        ctx.log(k, {"probe_val_loss": record["val_loss"], "probe_test_metric": record["test_metric"]})

    out = train_probes(
        (train["x"], train["labels"]), (test["x"], test["labels"]), classes, spec, config["seed"], log
    )
    ae = ae_run["result"]
    return {
        "metric": "distance" if classes is None else "accuracy",
        "test_metric": out["test_metric"],
        "constant_metric": out["constant_metric"],  # mean position / majority class, for scale
        "selected_hidden": list(out["probes"][out["selected"]]["hidden"]),  # a copy: see runs.unshared
        "probes": out["probes"],
        "dataset": config["data"]["dataset"],
        "procedure": config["procedure"],
        "z": config["z"],
        "epoch_seconds": ae["epoch_seconds"],
        "epoch_cpu_seconds": ae["epoch_cpu_seconds"],
        "autoencoder_epochs": ae["epochs"],
        "loss_network": ae["loss_network"],
    }


def simple_cnn_stage(ws: Workspace, config: dict, ctx: RunContext, deps: list[dict]) -> dict:
    """The Fig. 3 encoder + a 256-unit MLP trained on the probe-training collection, as the probes are
    (MSE on positions or one-hot labels, early stopping, best-validation weights), tested on probe_test."""
    train = collection_of(ws, config["data"], "probe_train")
    test = collection_of(ws, config["data"], "probe_test")
    classes = CLASSES[config["data"]["dataset"]]
    targets = targets_of(train.labels, classes).to(ws.device)
    torch.manual_seed(config["seed"])
    outputs = targets.shape[1]
    model = SimpleCNN(image_size(config["data"]), config["z"], outputs).to(ws.device)

    def batch_loss(idx):
        return torch.nn.functional.mse_loss(model(_floats(train.images[idx], ws.device)), targets[idx])

    spec = EpochSpec(**lists_to_tuples(config["train"]))
    history = fit_epochs(model, batch_loss, len(train), spec, config["seed"], ctx.log, ctx)
    model.eval()
    with torch.no_grad():
        predictions = torch.cat(
            [model(_floats(test.images[s : s + 512], ws.device)).cpu() for s in range(0, len(test), 512)]
        )
    n = len(history.wall_seconds)
    return {
        "dataset": config["data"]["dataset"],
        "metric": "distance" if classes is None else "accuracy",
        "test_metric": probe_metric(predictions, test.labels, classes),
        "constant_metric": constant_metric(train.labels, test.labels, classes),
        "epochs": n,
        "best_epoch": history.best_epoch,
        "epoch_seconds": sum(history.wall_seconds) / n,
        "train_size": len(train),
    }
