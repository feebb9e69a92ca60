"""The feature-prediction paper's experiments as the `losses` suite (Section VI, Figures 6–8, Tables I–II).

Every procedure × z × dataset × seed: one autoencoder run (trained with early stopping, timed per epoch)
and one probe run (the seven probes on its embeddings). LunarLander always; SVHN and STL-10 when their
roots are given. One loss network serves every run: ImageNet AlexNet when its weights are on the machine,
else the substitute the suite trains (recorded in every result).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from benchmark.loss_stages import autoencoder_stage, collection_stage, loss_network_stage, probe_stage
from benchmark.runs import RunSpec
from mike.data.photo_sets import check_files
from mike.featpred.datasets import COLLECTION_NAMES, data_config
from mike.featpred.loss_network import file_digest, imagenet_weights_path
from mike.featpred.procedures import PROCEDURES
from mike.profiles import Profile
from suites.plan import Planned, flatten

DATASET_LABELS = {"lunar_lander": "LunarLander", "svhn": "SVHN", "stl10": "STL-10"}


def loss_network_run(profile: Profile, alexnet_weights: Path | None) -> Planned:
    path = imagenet_weights_path(alexnet_weights)
    if path is not None:
        config = {"stage": "loss_network", "profile": profile.name, "seed": 0, "source": "imagenet"}
        config["path"] = str(path.resolve())
        config["digest"] = file_digest(path)
        label = "loss network: ImageNet AlexNet"
    else:
        # Every run config names its seed: Sacred would otherwise add a random one.
        config = {"stage": "loss_network", "profile": profile.name, "seed": 0, "source": "substitute"}
        config["substitute"] = asdict(profile.losses.substitute)
        label = "loss network: substitute (no ImageNet AlexNet weights found)"
    return Planned(RunSpec("loss_network", label, config), loss_network_stage)


def _collections(profile: Profile, dataset: str, data: dict) -> tuple[Planned, ...]:
    return tuple(
        Planned(
            RunSpec(
                "collection",
                f"{DATASET_LABELS[dataset]} {collection}",
                {
                    "stage": "collection",
                    "profile": profile.name,
                    "seed": 0,
                    "data": data,
                    "collection": collection,
                },
            ),
            collection_stage,
        )
        for collection in COLLECTION_NAMES
    )


def losses(
    profile: Profile,
    seeds: list[int],
    alexnet_weights: Path | None = None,
    svhn_root: Path | None = None,
    stl10_root: Path | None = None,
) -> list[Planned]:
    opts = profile.losses
    roots_of = {"lunar_lander": None, "svhn": svhn_root, "stl10": stl10_root}
    datasets = [d for d, root in roots_of.items() if d == "lunar_lander" or root is not None]
    for dataset in datasets[1:]:
        check_files(dataset, roots_of[dataset])
    lossnet = loss_network_run(profile, alexnet_weights)
    roots: list[Planned] = []
    for dataset in datasets:
        data = data_config(dataset, opts.lunar, roots_of[dataset], opts.photo_limits)
        roots += _collections(profile, dataset, data)
        for seed in seeds:
            for procedure in PROCEDURES:
                for z in opts.z_values:
                    roots.append(_probe_run(profile, lossnet, dataset, data, procedure, z, seed))
    return flatten(roots)


def _probe_run(profile, lossnet, dataset, data, procedure, z, seed) -> Planned:
    opts = profile.losses
    uses_net = PROCEDURES[procedure].uses_loss_network
    base = {"profile": profile.name, "seed": seed, "data": data, "procedure": procedure, "z": z}
    ae_config = {
        **base,
        "stage": "autoencoder",
        "gamma": opts.gamma,
        "train": asdict(opts.autoencoder),
        "loss_network": lossnet.spec.hash if uses_net else None,
        "keep_models": opts.keep_models,
    }
    name = f"{procedure} z={z} {DATASET_LABELS[dataset]} seed {seed}"
    ae = Planned(RunSpec("autoencoder", name, ae_config), autoencoder_stage, (lossnet,) if uses_net else ())
    probe_config = {**base, "stage": "probe", "autoencoder": ae.spec.hash, "train": asdict(opts.probe)}
    return Planned(RunSpec("probe", f"probes of {name}", probe_config), probe_stage, (ae,))
