"""Run documents made by hand, shaped as the suites store them (configs that reference each other by config
hash, results, per-step metrics), inserted into a real MongoDB-protocol server for the report's tests."""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
from secantus import SecantusDBServer

from benchmark.report.claims import evaluate, load_claims
from benchmark.report.data import load
from benchmark.store import RunStore, connect
from mike.data.cache import config_hash
from mike.data.tasks import TASK_CODES
from mike.featpred.procedure_table import PROCEDURES
from suites.plan import TEST_SPLIT

SYNTHETIC = {"coco_root": None, "synthetic": {"instances": 300}, "tri_class": {"crops": 2}}
TRAIN = {
    "steps": 300,
    "batch_size": 32,
    "lr": 0.002,
    "cosine": True,
    "warmup_steps": 0,
    "checkpoint_every": 0,
}
LAYERS = [f"L{k:02d}_{'stem' if k == 1 else 'head' if k == 18 else 'mbconv'}" for k in range(1, 19)]
Z_VALUES = (64, 128, 256)
DATA = {
    "lunar_lander": {"dataset": "lunar_lander", "lunar": {"rollouts": 16, "steps": 100}},
    "stl10": {"dataset": "stl10", "root": "/data/stl10", "limits": [0, 0, 0]},
    "svhn": {"dataset": "svhn", "root": "/data/svhn", "limits": [0, 0, 0]},
}
AE_TRAIN = {"max_epochs": 6, "patience": 3, "batch_size": 64}
PROBE_TRAIN = {"max_epochs": 150, "patience": 25, "batch_size": 128}


class GeneratedStore:
    """A run store that tests fill with generated documents; `reset` empties it between cases."""

    def __init__(self, uri: str):
        self.store = RunStore(connect(uri), uri)
        self.next_id = 0
        self.pending: dict[str, list[dict]] = {"runs": [], "metrics": []}

    @property
    def db(self):
        return self.store.db

    def flush(self) -> RunStore:
        """Insert what was added (one round trip per collection), and return the store."""
        for name, docs in self.pending.items():
            if docs:
                self.db[name].insert_many(docs)
                docs.clear()
        return self.store

    def reset(self) -> GeneratedStore:
        self.db.runs.delete_many({})
        self.db.metrics.delete_many({})
        return self

    def add(
        self,
        stage: str,
        profile: str,
        seed: int,
        config: dict,
        result: dict | None = None,
        info: dict | None = None,
    ) -> str:
        """Insert one COMPLETED run; returns its config hash (what other configs reference)."""
        self.next_id += 1
        full = {"stage": stage, "profile": profile, "seed": seed, **config}
        key = config_hash(full)
        self.pending["runs"].append(
            {
                "_id": self.next_id,
                "status": "COMPLETED",
                "config": full,
                "meta": {"config_hash": key},
                "info": {
                    "label": f"{stage} {self.next_id}",
                    "git_commit": "abc123",
                    "hardware": {"cpus": 2},
                    "seconds": 1.0,
                    **(info or {}),
                },
                "result": result or {},
            }
        )
        return key

    def metric(self, name: str, steps: Iterable[int], values: Iterable[float]) -> None:
        """A metric series of the run inserted last."""
        self.pending["metrics"].append(
            {
                "run_id": self.next_id,
                "name": name,
                "steps": [int(s) for s in steps],
                "values": [float(v) for v in values],
            }
        )

    def verdict(self, claim_id: str, profile: str = "small", suite: str | None = None):
        claim = next(c for c in load_claims() if c["id"] == claim_id)
        store = self.flush()
        (verdict,) = evaluate([claim], load(store, profile), store, {suite or claim["suite"]})
        return verdict


@contextlib.contextmanager
def served(folder: Path) -> Iterator[GeneratedStore]:
    with SecantusDBServer(storage_path=str(folder / "db"), host="127.0.0.1", port=0) as server:
        yield GeneratedStore(server.uri)


def noise(scale: float, *key) -> float:
    """Deterministic noise for one (…, seed) cell."""
    return float(np.random.default_rng(zlib.crc32(repr(key).encode())).normal(0, scale))


# ---- MIKE ------------------------------------------------------------------------------------------------


def teachers(
    gs: GeneratedStore, profile: str, seed: int, data: dict = SYNTHETIC, iou: float = 0.7
) -> dict[str, str]:
    return {
        t: gs.add("teacher", profile, seed, {"task": t, "data": data, "train": TRAIN}, {"iou": iou})
        for t in TASK_CODES
    }


def split_runs(
    gs: GeneratedStore, profile: str, positive_fraction: list[float], data: dict = SYNTHETIC
) -> None:
    """The dataset runs of every task's test split (the teachers' constant predictor is read from them)."""
    for t in TASK_CODES:
        config = {"task": t, "split": TEST_SPLIT, "data": data}
        gs.add("dataset", profile, 0, config, {"size": 100, "positive_fraction": positive_fraction})


def figure3_runs(
    gs: GeneratedStore,
    profile: str,
    seeds: Iterable[int],
    mike_minus_baseline: Callable[[int, int, int], float],
    data: dict = SYNTHETIC,
    transfer_train: dict = TRAIN,
    teacher_iou: float = 0.7,
) -> None:
    """11 single-teacher MIKE encoders and their baselines, each evaluated on the 11 tasks, per seed."""
    for seed in seeds:
        teacher = teachers(gs, profile, seed, data, teacher_iou)
        for e, enc in enumerate(TASK_CODES):
            common = {"tasks": [enc], "data": data}
            mike = gs.add(
                "transfer",
                profile,
                seed,
                {**common, "schedule": "uniform", "teachers": [teacher[enc]], "train": transfer_train},
            )
            base = gs.add("baseline", profile, seed, {**common, "train": TRAIN})
            for t, task in enumerate(TASK_CODES):
                value = 0.5 + 0.01 * ((e * 7 + t * 3) % 5) + noise(0.01, e, t, seed)
                for encoder, v in ((base, value), (mike, value + mike_minus_baseline(e, t, seed))):
                    config = {
                        "task": task,
                        "encoder": encoder,
                        "teacher": teacher[task],
                        "data": data,
                        "train": TRAIN,
                    }
                    gs.add("downstream", profile, seed, config, {"normalised_iou": v})


def encoder_runs(gs: GeneratedStore, profile: str, seeds: Iterable[int], offsets: dict[str, float]) -> None:
    """MIKE uniform encoders (key: their tasks joined by '+') evaluated on the 11 tasks: 0.3 + offset."""
    for seed in seeds:
        teacher = teachers(gs, profile, seed)
        for name, offset in offsets.items():
            tasks = name.split("+")
            enc = gs.add(
                "transfer",
                profile,
                seed,
                {
                    "tasks": tasks,
                    "schedule": "uniform",
                    "data": SYNTHETIC,
                    "teachers": [teacher[t] for t in tasks],
                    "train": TRAIN,
                },
            )
            for t, task in enumerate(TASK_CODES):
                value = 0.3 + 0.02 * (t % 4) + offset + noise(0.003, name, t, seed)
                config = {
                    "task": task,
                    "encoder": enc,
                    "teacher": teacher[task],
                    "data": SYNTHETIC,
                    "train": TRAIN,
                }
                gs.add("downstream", profile, seed, config, {"normalised_iou": value})


Curve = Callable[[str, int, int, np.ndarray], np.ndarray]  # (schedule, seed, layer index, steps) -> losses


def progressive_runs(
    gs: GeneratedStore,
    profile: str,
    seeds: Iterable[int],
    curve: Curve,
    steps: int = 360,
    warmup: int = 0,
    model: dict | None = None,
) -> None:
    """BTS uniform and last-layer progressive transfer runs with every layer's loss per step (model: the
    autoencoder's config, for Section 5's variants)."""
    for seed in seeds:
        teacher = teachers(gs, profile, seed)
        for schedule in ("uniform", "progressive"):
            train = {**TRAIN, "steps": steps, "warmup_steps": warmup}
            gs.add(
                "transfer",
                profile,
                seed,
                {
                    "tasks": ["BTS"],
                    "schedule": schedule,
                    "data": SYNTHETIC,
                    "teachers": [teacher["BTS"]],
                    "train": train,
                    **({"model": model} if model else {}),
                },
            )
            x = np.arange(steps)
            for k, layer in enumerate(LAYERS):
                gs.metric(f"layer/BTS/{layer}", x, curve(schedule, seed, k, x))


# ---- feature prediction ------------------------------------------------------------------------------------

# Means shaped as the paper states them: LunarLander distances in normalised coordinates (Table II × 0.01).
LEVELS = {
    "lunar_lander": {
        "I-I-PW": 0.1376,
        "I-I-PS": 0.0196,
        "F-I-PW": 0.14,
        "F-I-PS": 0.02,
        "I-F-FP": 0.0192,
        "F-F-FP": 0.03,
    },
    "stl10": {"I-I-PW": 0.38, "I-I-PS": 0.59, "F-I-PW": 0.40, "F-I-PS": 0.58, "I-F-FP": 0.67, "F-F-FP": 0.45},
    "svhn": {"I-I-PW": 0.82, "I-I-PS": 0.87, "F-I-PW": 0.80, "F-I-PS": 0.80, "I-F-FP": 0.86, "F-F-FP": 0.55},
}
SECONDS = {
    "lunar_lander": {"I-I-PW": 8, "I-I-PS": 10, "F-I-PW": 8, "F-I-PS": 10, "I-F-FP": 6, "F-F-FP": 6},
    "stl10": {"I-I-PW": 10, "I-I-PS": 10, "F-I-PW": 10, "F-I-PS": 10, "I-F-FP": 7.5, "F-F-FP": 7.5},
    "svhn": {"I-I-PW": 8, "I-I-PS": 10, "F-I-PW": 8, "F-I-PS": 10, "I-F-FP": 5.5, "F-F-FP": 5},
}
CNN = {"lunar_lander": 0.081, "stl10": 0.48, "svhn": 0.89}


def loss_network(gs: GeneratedStore, profile: str, source: str) -> str:
    config = (
        {"source": source, "digest": "d1"}
        if source == "imagenet"
        else {"source": source, "substitute": {"steps": 800}}
    )
    return gs.add("loss_network", profile, 0, config, {"source": source})


def fp_runs(
    gs: GeneratedStore,
    profile: str,
    seeds: Iterable[int],
    datasets: Iterable[str] = ("lunar_lander", "stl10", "svhn"),
    levels: dict | None = None,
    seconds: dict | None = None,
    source: str = "imagenet",
    cnn: dict | None = None,
    spread: float = 0.001,
    stopping: dict | None = None,
    runs_at_once: int = 1,
) -> None:
    """Autoencoder and probe runs of every procedure × z per dataset and seed, and simple-CNN runs.

    levels / seconds override LEVELS / SECONDS per (dataset, procedure); a value may be a dict by z.
    stopping: the autoencoders' epochs run and best epoch (default: 5 of at most 6, best 1: patience 3).
    runs_at_once: how many runs shared the machine while each autoencoder was timed."""
    levels, seconds = levels or {}, seconds or {}
    net = loss_network(gs, profile, source)
    for dataset in datasets:
        data = DATA[dataset]
        metric = "distance" if dataset == "lunar_lander" else "accuracy"
        for seed in seeds:
            for procedure in PROCEDURES:
                uses = PROCEDURES[procedure].uses_loss_network
                for z in Z_VALUES:
                    level = levels.get((dataset, procedure), LEVELS[dataset][procedure])
                    level = level[z] if isinstance(level, dict) else level
                    t = seconds.get((dataset, procedure), SECONDS[dataset][procedure])
                    used = source if uses else "none"
                    ae = gs.add(
                        "autoencoder",
                        profile,
                        seed,
                        {
                            "data": data,
                            "procedure": procedure,
                            "z": z,
                            "gamma": 0.0,
                            "train": AE_TRAIN,
                            "loss_network": net if uses else None,
                        },
                        {
                            **(stopping or {"epochs": 5, "best_epoch": 1}),
                            "epoch_seconds": t,
                            "loss_network": used,
                        },
                        info={"runs_at_once": runs_at_once},
                    )
                    scale = spread / 10 if dataset == "lunar_lander" else spread  # distances ~0.02
                    result = {
                        "dataset": dataset,
                        "procedure": procedure,
                        "z": z,
                        "metric": metric,
                        "test_metric": level + noise(scale, dataset, procedure, z, seed),
                        "constant_metric": 0.5 if metric == "distance" else 0.1,
                        "epoch_seconds": t + noise(0.02, "t", dataset, procedure, z, seed),
                        "epoch_cpu_seconds": t,
                        "loss_network": used,
                        "selected_hidden": [32],
                    }
                    gs.add(
                        "probe",
                        profile,
                        seed,
                        {
                            "data": data,
                            "procedure": procedure,
                            "z": z,
                            "autoencoder": ae,
                            "train": PROBE_TRAIN,
                        },
                        result,
                    )
            value = (cnn or CNN).get(dataset)
            if value is not None:
                gs.add(
                    "simple_cnn",
                    profile,
                    seed,
                    {"data": data, "z": 64, "train": PROBE_TRAIN},
                    {
                        "dataset": dataset,
                        "metric": metric,
                        "test_metric": value + noise(spread, "cnn", dataset, seed),
                        "constant_metric": 0.1,
                        "epoch_seconds": 1.0,
                    },
                )


EpochCurve = Callable[[str, int], np.ndarray]  # (procedure, seed) -> validation loss per epoch


def convergence_runs(
    gs: GeneratedStore, profile: str, seeds: Iterable[int], curve: EpochCurve, epoch_seconds: float = 3.0
) -> None:
    """Figure 9's SVHN z = 64 autoencoders (patience 15) with their validation loss per epoch."""
    net = loss_network(gs, profile, "imagenet")
    for seed in seeds:
        for procedure in PROCEDURES:
            uses = PROCEDURES[procedure].uses_loss_network
            values = curve(procedure, seed)
            config = {
                "study": "convergence",
                "data": DATA["svhn"],
                "procedure": procedure,
                "z": 64,
                "gamma": 0.0,
                "train": {**AE_TRAIN, "patience": 15, "max_epochs": 200},
                "loss_network": net if uses else None,
            }
            result = {
                "epochs": len(values),
                "best_epoch": int(np.argmin(values)),
                "epoch_seconds": epoch_seconds,
                "loss_network": "imagenet" if uses else "none",
            }
            gs.add("autoencoder", profile, seed, config, result)
            gs.metric("val_loss", range(len(values)), values)


# ---- runs exactly as a suite plans them -------------------------------------------------------------------


def plan_documents(gs: GeneratedStore, plan, result: Callable[[dict], dict]) -> None:
    """Every planned run as a COMPLETED document with its planned config and a generated result (a run
    already stored under the same config hash is not stored twice, as the executor reuses it)."""
    done = set(gs.db.runs.distinct("meta.config_hash")) | {
        d["meta"]["config_hash"] for d in gs.pending["runs"]
    }
    for p in plan:
        if p.spec.hash in done:
            continue
        done.add(p.spec.hash)
        config = p.spec.config
        gs.add(
            config["stage"],
            config["profile"],
            config["seed"],
            {k: v for k, v in config.items() if k not in ("stage", "profile", "seed")},
            result(config),
        )
