"""The feature-prediction paper's experiments as the `losses` suite (Section VI, Figures 6–8, Tables I–II).

Every procedure × z × dataset × seed: one autoencoder run (trained with early stopping, timed per epoch)
and one probe run (the seven probes on its embeddings). Every dataset × seed: one simple-CNN run (Table
II's supervised reference). LunarLander always; SVHN and STL-10 when their roots are given. With SVHN,
Figure 9's convergence runs too: every procedure at z = 64, early stopping with patience 15. One loss
network serves every run: ImageNet AlexNet when its weights are on the machine, else the substitute the
suite trains (recorded in every result).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

from mike.data.photo_files import check_files
from mike.featpred.datasets import COLLECTION_NAMES, data_config
from mike.featpred.procedure_table import PROCEDURES
from mike.featpred.weights_file import file_digest, imagenet_weights_path
from mike.profiles import Profile
from suites.plan import Planned, RunSpec, flatten

DATASET_LABELS = {"lunar_lander": "LunarLander", "svhn": "SVHN", "stl10": "STL-10"}
SIMPLE_CNN_Z = 64  # the CNN's encoder ends in a linear layer to z before its MLP; the paper gives no z
# Figure 9 (Section VII): SVHN, z = 64, "until no better validation loss could be found for 15 epochs".
CONVERGENCE = {"dataset": "svhn", "z": 64, "patience": 15}
CONVERGENCE_EPOCH_CAP = 4  # × the profile's autoencoder epochs: the paper states no cap, a run needs one


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
    return Planned(RunSpec("loss_network", label, config))


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
            roots.append(_simple_cnn_run(profile, dataset, data, seed))
            if dataset == CONVERGENCE["dataset"]:
                roots += [_convergence_run(profile, lossnet, data, p, seed) for p in PROCEDURES]
    return flatten(roots)


def _simple_cnn_run(profile, dataset, data, seed) -> Planned:
    """Table II's simple CNN on one dataset: trained on the probe-training collection like the probes."""
    config = {
        "stage": "simple_cnn",
        "profile": profile.name,
        "seed": seed,
        "data": data,
        "z": SIMPLE_CNN_Z,
        "train": asdict(profile.losses.probe),
    }
    name = f"simple CNN {DATASET_LABELS[dataset]} seed {seed}"
    return Planned(RunSpec("simple_cnn", name, config))


def _convergence_run(profile, lossnet, data, procedure, seed) -> Planned:
    """Figure 9: an autoencoder trained until 15 epochs bring no better validation loss (val_loss per epoch
    is logged by every autoencoder run; `study` keeps these apart from the probe study's runs)."""
    opts = profile.losses
    uses_net = PROCEDURES[procedure].uses_loss_network
    train = replace(
        opts.autoencoder,
        patience=CONVERGENCE["patience"],
        max_epochs=CONVERGENCE_EPOCH_CAP * opts.autoencoder.max_epochs,
    )
    config = {
        "stage": "autoencoder",
        "profile": profile.name,
        "seed": seed,
        "study": "convergence",
        "data": data,
        "procedure": procedure,
        "z": CONVERGENCE["z"],
        "gamma": opts.gamma,
        "train": asdict(train),
        "loss_network": lossnet.spec.hash if uses_net else None,
        "keep_models": False,
    }
    name = f"convergence {procedure} z={CONVERGENCE['z']} SVHN seed {seed}"
    return Planned(RunSpec("autoencoder", name, config), deps=(lossnet,) if uses_net else ())


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
    ae = Planned(RunSpec("autoencoder", name, ae_config), deps=(lossnet,) if uses_net else ())
    probe_config = {**base, "stage": "probe", "autoencoder": ae.spec.hash, "train": asdict(opts.probe)}
    return Planned(RunSpec("probe", f"probes of {name}", probe_config), deps=(ae,))
