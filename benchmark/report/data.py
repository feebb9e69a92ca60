"""Everything the report needs, read from the run store with projections (no whole documents, no models).

Rows carry their run id, config hash, git commit and hardware, so every figure and table cell can be traced,
and their setting components (benchmark/report/settings.py), so that no table mixes two experiments.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from benchmark.report.settings import (
    FAMILIES,
    Catalogue,
    Setting,
    compatible,
    describe,
    enumerate_settings,
    profile_defaults,
)
from benchmark.report.variants import decoder_variant, embedding_channels, paper_topology
from benchmark.store import RunStore
from mike.data.cache import config_hash
from suites.plan import TEST_SPLIT

FIELDS = {
    "stage": "$config.stage",
    "profile": "$config.profile",
    "seed": "$config.seed",
    "config_hash": "$meta.config_hash",
    "label": "$info.label",
    "git_commit": "$info.git_commit",
    "hardware": "$info.hardware",
    "seconds": "$info.seconds",
}


@dataclass
class ReportData:
    profile: str
    runs: pd.DataFrame  # every COMPLETED run of the profile: provenance
    downstream: pd.DataFrame  # one row per downstream run, with its encoder's kind, tasks and schedule
    probes: pd.DataFrame  # one row per probe run (feature-prediction suite)
    transfer: pd.DataFrame  # MIKE transfer runs (for Figures 5–6: their metric names are loaded on demand)
    data_sources: dict  # what data the runs used: synthetic COCO or a root, loss networks
    simple_cnn: pd.DataFrame = field(default_factory=pd.DataFrame)  # Table II's supervised CNN row
    convergence: pd.DataFrame = field(default_factory=pd.DataFrame)  # Figure 9's autoencoder runs
    catalogue: Catalogue | None = None  # setting dicts by key, for describing settings
    # For the preconditions: each teacher's test IoU beside its task's best constant predictor, and each
    # probed autoencoder's stopping (epochs run, best epoch, max_epochs, patience)
    teachers: pd.DataFrame = field(default_factory=pd.DataFrame)
    autoencoders: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Section 5's studies: every downstream and transfer run (the paper's included, with the variant of
    # their autoencoder), and the step-cost runs of the scaling suite
    section5_downstream: pd.DataFrame = field(default_factory=pd.DataFrame)
    section5_transfer: pd.DataFrame = field(default_factory=pd.DataFrame)
    transfer_cost: pd.DataFrame = field(default_factory=pd.DataFrame)
    sequential: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per sequential-transfer step

    def rows(self, family: str) -> list[dict[str, str]]:
        """The setting components of every row of a family's frames."""
        frames = [getattr(self, name) for name in FAMILIES[family]]
        return [c for f in frames if not f.empty and "components" in f for c in f["components"]]


def profiles_in(store: RunStore) -> list[str]:
    return sorted(p for p in store.db.runs.distinct("config.profile", {"status": "COMPLETED"}) if p)


def _frame(store: RunStore, match: dict, extra: dict) -> pd.DataFrame:
    pipeline = [{"$match": {"status": "COMPLETED", **match}}, {"$project": {"_id": 1, **FIELDS, **extra}}]
    rows = list(store.db.runs.aggregate(pipeline))
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["run_id", *FIELDS, *extra])
    # One row per config: a config COMPLETED twice (e.g. two processes raced) is one run, the first one,
    # as the store's reuse rule has it; copies must not weigh twice in a mean.
    frame = frame.sort_values("_id", kind="stable")
    if "config_hash" in frame:
        frame = frame[~(frame["config_hash"].notna() & frame["config_hash"].duplicated())]
    frame["run_id"] = frame.pop("_id").astype(str)
    # A field no document has (e.g. one added in a later version) is still a column, all missing.
    return frame.reindex(columns=["run_id", *FIELDS, *extra])


def _with_components(frame: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    if frame.empty:
        return frame.assign(components=pd.Series(dtype=object))
    datasets = frame["dataset"] if "dataset" in frame else pd.Series([None] * len(frame), index=frame.index)
    frame = frame.copy()
    frame["components"] = [
        catalogue.components(catalogue.configs.get(h, {}), d)
        for h, d in zip(frame["config_hash"], datasets, strict=True)
    ]
    return frame


def load(store: RunStore, profile: str) -> ReportData:
    base = {"config.profile": profile}
    configs = {
        doc["meta"]["config_hash"]: doc["config"]
        for doc in store.db.runs.find({"status": "COMPLETED", **base}, {"config": 1, "meta.config_hash": 1})
        if doc.get("meta", {}).get("config_hash")
    }
    catalogue = Catalogue(configs)
    runs = _frame(store, base, {"data": "$config.data"})
    encoders = _frame(
        store,
        {**base, "config.stage": {"$in": ["transfer", "baseline", "sequential"]}},
        {
            "tasks": "$config.tasks",
            "schedule": "$config.schedule",
            "teachers": "$config.teachers",
            "steps": "$config.train.steps",
            "warmup_steps": "$config.train.warmup_steps",
            "model": "$config.model",
            # sequential transfer (Section 5): its place in the sequence and the EWC weight
            "step": "$config.step",
            "sequence": "$config.sequence",
            "study": "$config.study",
            "ewc_lambda": "$config.ewc_lambda",
            "seconds_per_step": "$result.seconds_per_step",
            "runs_at_once": "$info.runs_at_once",
            "ewc_bytes": "$result.ewc_bytes",
            "autoencoder_bytes": "$result.autoencoder_bytes",
            "teacher_bytes": "$result.teacher_bytes",
        },
    )
    if not encoders.empty:
        encoders["embedding_channels"] = encoders["model"].map(embedding_channels)
        encoders["decoder_variant"] = encoders["model"].map(decoder_variant)
        encoders["n_teachers"] = encoders["tasks"].map(len)
    downstream = _frame(
        store,
        {**base, "config.stage": "downstream"},
        {
            "task": "$config.task",
            "encoder": "$config.encoder",
            "teacher": "$config.teacher",
            "decoder": "$config.decoder",
            "value": "$result.normalised_iou",
            "study": "$config.study",
        },
    )
    if not downstream.empty:  # each downstream run beside what its encoder was
        encoder_of = pd.DataFrame(
            {
                "encoder": encoders["config_hash"],
                "kind": encoders["stage"].map(
                    {"transfer": "MIKE", "baseline": "pixel-wise", "sequential": "sequential"}
                ),
                "encoder_tasks": encoders["tasks"].map("+".join),
                "n_teachers": encoders["tasks"].map(len),
                "schedule": encoders["schedule"],
                "warmup_steps": encoders["warmup_steps"],
                "encoder_run": encoders["run_id"],
                "embedding_channels": encoders["embedding_channels"],
                "decoder_variant": encoders["decoder_variant"],
                "encoder_steps": encoders["steps"],
                "encoder_step": encoders["step"],
                "encoder_sequence": encoders["sequence"].map(
                    lambda tasks: "+".join(tasks) if isinstance(tasks, list) else None
                ),
                "ewc_lambda": encoders["ewc_lambda"],
            }
        )
        downstream = downstream.merge(encoder_of, on="encoder", how="inner")
        # runs stored before the option existed trained a fresh decoder
        downstream["decoder"] = (
            downstream["decoder"].astype(object).where(downstream["decoder"].notna(), "fresh")
        )
    # Section 5's own runs never enter the paper's figures and claims
    section5_downstream = downstream
    if not downstream.empty:
        paper = downstream["study"].isna() & paper_topology(downstream) & (downstream["kind"] != "sequential")
        downstream = downstream[paper]
    probes = _frame(
        store,
        {**base, "config.stage": "probe"},
        {
            "dataset": "$result.dataset",
            "procedure": "$result.procedure",
            "z": "$result.z",
            "metric": "$result.metric",
            "value": "$result.test_metric",
            "constant": "$result.constant_metric",
            "epoch_seconds": "$result.epoch_seconds",
            "epoch_cpu_seconds": "$result.epoch_cpu_seconds",
            "loss_network": "$result.loss_network",
            "selected_hidden": "$result.selected_hidden",
            "autoencoder": "$config.autoencoder",
        },
    )
    simple_cnn = _frame(
        store,
        {**base, "config.stage": "simple_cnn"},
        {
            "dataset": "$result.dataset",
            "metric": "$result.metric",
            "value": "$result.test_metric",
            "constant": "$result.constant_metric",
            "epoch_seconds": "$result.epoch_seconds",
        },
    )
    convergence = _frame(
        store,
        {**base, "config.stage": "autoencoder", "config.study": "convergence"},
        {
            "dataset": "$config.data.dataset",
            "procedure": "$config.procedure",
            "z": "$config.z",
            "epochs": "$result.epochs",
            "runs_at_once": "$info.runs_at_once",
            "best_epoch": "$result.best_epoch",
            "epoch_seconds": "$result.epoch_seconds",
            "loss_network": "$result.loss_network",
        },
    )
    section5_transfer = encoders[encoders["stage"] == "transfer"] if not encoders.empty else encoders
    sequential = encoders[encoders["stage"] == "sequential"] if not encoders.empty else encoders
    transfer = (  # the paper's figures: its topology, and no Section 5 study's own reference runs
        section5_transfer[paper_topology(section5_transfer) & section5_transfer["study"].isna()]
        if not encoders.empty
        else encoders
    )
    transfer_cost = _frame(
        store,
        {**base, "config.stage": "transfer_cost"},
        {
            "tasks": "$config.tasks",
            "teachers": "$result.teachers",
            "seconds_per_step": "$result.seconds_per_step",
            "step_memory_bytes": "$result.step_memory_bytes",
            "saved_for_backward_bytes": "$result.saved_for_backward_bytes",
            "frozen_bytes": "$result.frozen_bytes",
            "cuda_peak_bytes": "$result.cuda_peak_bytes",
            "machine_memory_bytes": "$result.machine_memory_bytes",
            "device": "$result.device",
            "runs_at_once": "$info.runs_at_once",
        },
    )
    autoencoders = _frame(
        store,
        {**base, "config.stage": "autoencoder", "config.study": {"$ne": "convergence"}},
        {
            "dataset": "$config.data.dataset",
            "procedure": "$config.procedure",
            "z": "$config.z",
            "epochs": "$result.epochs",
            "best_epoch": "$result.best_epoch",
            "max_epochs": "$config.train.max_epochs",
            "patience": "$config.train.patience",
            "runs_at_once": "$info.runs_at_once",
        },
    )
    lossnets = runs[runs["stage"] == "loss_network"] if not runs.empty else runs
    sources = {
        "synthetic_coco": any(
            isinstance(d, dict) and d.get("synthetic") is not None for d in runs.get("data", [])
        ),
        "coco_roots": sorted(
            {d["coco_root"] for d in runs.get("data", []) if isinstance(d, dict) and d.get("coco_root")}
        ),
        "loss_networks": _loss_networks(probes, convergence),
        "loss_network_runs": lossnets["run_id"].tolist() if not lossnets.empty else [],
    }
    return ReportData(
        profile,
        runs.drop(columns=["data"], errors="ignore"),
        _with_components(downstream, catalogue),
        _with_components(probes, catalogue),
        _with_components(transfer, catalogue),
        sources,
        _with_components(simple_cnn, catalogue),
        _with_components(convergence, catalogue),
        catalogue,
        _teachers(store, base),
        autoencoders,
        section5_downstream,
        section5_transfer,
        transfer_cost,
        sequential,
    )


def constant_iou(positive_fraction: list[float] | float | None) -> float:
    """IoU (mike.metrics) of the best constant predictor on a split whose channels have these fractions of
    positive pixels: every pixel positive in each channel that has positives (IoU_c = its fraction), nothing
    in the others (their union stays empty, so they do not count)."""
    if not isinstance(positive_fraction, (list, tuple)):  # a dataset run that did not record it reads as NaN
        return float("nan")
    present = [f for f in positive_fraction if f > 0]
    return float(sum(present) / len(present)) if present else float("nan")


def _teachers(store: RunStore, base: dict) -> pd.DataFrame:
    """Teacher runs with their test IoU and the constant predictor's IoU on the same test split (from the
    dataset run of that task, split and data source: the teacher's own config names them)."""
    teachers = _frame(
        store,
        {**base, "config.stage": "teacher"},
        {"task": "$config.task", "iou": "$result.iou", "data": "$config.data"},
    )
    splits = _frame(
        store,
        {**base, "config.stage": "dataset", "config.split": TEST_SPLIT},
        {"task": "$config.task", "data": "$config.data", "positive_fraction": "$result.positive_fraction"},
    )
    constant = {
        (task, config_hash(data)): constant_iou(fraction)
        for task, data, fraction in zip(
            splits["task"], splits["data"], splits["positive_fraction"], strict=True
        )
    }
    teachers["constant_iou"] = [
        constant.get((task, config_hash(data)), float("nan"))
        for task, data in zip(teachers["task"], teachers["data"], strict=True)
    ]
    return teachers.drop(columns=["data"])


def _loss_networks(*frames: pd.DataFrame) -> list[str]:
    used = set()
    for f in frames:
        if not f.empty:
            used |= set(f["loss_network"].dropna()) - {"none"}
    return sorted(used)


def restrict(data: ReportData, setting: dict[str, str]) -> ReportData:
    """The rows of one setting (every frame), with the loss networks that setting used."""

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty or "components" not in frame:
            return frame
        return frame[frame["components"].map(lambda c: compatible(c, setting))]

    probes, convergence = keep(data.probes), keep(data.convergence)
    downstream, transfer = keep(data.downstream), keep(data.transfer)
    sources = {**data.data_sources, "loss_networks": _loss_networks(probes, convergence)}
    return replace(
        data,
        downstream=downstream,
        probes=probes,
        transfer=transfer,
        teachers=_referenced(data.teachers, downstream, "teacher", transfer, "teachers"),
        autoencoders=_referenced(data.autoencoders, probes, "autoencoder"),
        simple_cnn=keep(data.simple_cnn),
        convergence=convergence,
        data_sources=sources,
    )


def _referenced(frame: pd.DataFrame, *by) -> pd.DataFrame:
    """The rows of `frame` whose config hash a column of another frame names (by: frame, column, ...);
    a column may hold one hash or a list of them."""
    if frame.empty:
        return frame
    wanted: set[str] = set()
    for other, column in zip(by[::2], by[1::2], strict=True):
        if not other.empty and column in other:
            for value in other[column].dropna():
                wanted |= set(value) if isinstance(value, list) else {value}
    return frame[frame["config_hash"].isin(wanted)]


def split_by_setting(data: ReportData, family: str) -> list[tuple[Setting, ReportData]]:
    """Each setting of a family ("MIKE", "feature prediction") with its rows, the most runs first."""
    rows = data.rows(family)
    if not rows:
        return []
    catalogue = data.catalogue or Catalogue({})
    defaults = profile_defaults(data.profile, catalogue)
    return [
        (
            Setting(family, chr(ord("A") + i), tuple(sorted(s.items())), describe(s, defaults, catalogue)),
            restrict(data, s),
        )
        for i, s in enumerate(enumerate_settings(rows))
    ]


def single_teacher(downstream: pd.DataFrame) -> pd.DataFrame:
    """Downstream runs of single-teacher encoders (Figure 3): MIKE all-layers uniform, and their baselines."""
    if downstream.empty:
        return downstream
    d = downstream
    return d[(d["n_teachers"] == 1) & (d["schedule"].isna() | (d["schedule"] == "uniform"))]
