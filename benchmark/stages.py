"""The MIKE stages as run bodies: dataset build, teacher, transfer (MIKE), baseline, downstream evaluation.

Each takes its run's config (the dict stored by Sacred) and a RunContext, and returns a flat result dict.
Models come back from the store's GridFS, never from another process's memory; within one process the
Workspace keeps what was already loaded (datasets, teachers, embeddings) so it is not loaded twice.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from benchmark.runs import RunContext
from benchmark.store import RunStore
from mike.data.synthetic_coco import SyntheticCocoConfig, generate_synthetic_coco
from mike.data.tasks import get_task
from mike.data.tri_class import TriClassConfig, TriClassData, build_tri_class, coco_paths, load_coco
from mike.metrics import normalised_iou
from mike.models.autoencoder import Autoencoder
from mike.models.segmenter import Segmenter
from mike.schedules import make_schedule
from mike.training.downstream import embed_sets, train_decoder
from mike.training.loop import TrainSpec
from mike.training.specs import ExecutionSpec
from mike.training.step_cost import measure_steps
from mike.training.teacher import evaluate_segmenter, train_teacher
from mike.training.transfer import QuerySet, mike_step_loss, train_mike, train_pixelwise
from suites.plan import TEST_SPLIT, TRAIN_SPLIT


@dataclass
class Workspace:
    """Per-process caches and settings shared by the stages of one command."""

    store: RunStore
    cache_dir: Path
    device: str
    datasets: dict = field(default_factory=dict)
    cocos: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    embeddings: dict = field(default_factory=dict)
    synthetic_roots: dict = field(default_factory=dict)

    def coco_root(self, data: dict) -> Path:
        if data["coco_root"] is not None:
            return Path(data["coco_root"])
        key = str(sorted(data["synthetic"].items()))  # found (and its files verified) once per process
        if key not in self.synthetic_roots:
            config = SyntheticCocoConfig(**lists_to_tuples(data["synthetic"]))
            self.synthetic_roots[key] = generate_synthetic_coco(config, self.cache_dir)
        return self.synthetic_roots[key]

    def dataset(self, data: dict, task: str, split: str) -> TriClassData:
        root = self.coco_root(data)
        key = (str(root), task, split, str(data["tri_class"]))
        if key not in self.datasets:
            if (str(root), split) not in self.cocos:
                self.cocos[str(root), split] = load_coco(coco_paths(root, split)[0])
            cfg = TriClassConfig(**lists_to_tuples(data["tri_class"]))
            coco = self.cocos[str(root), split]
            self.datasets[key] = build_tri_class(root, get_task(task), split, cfg, self.cache_dir, coco)
        return self.datasets[key]

    def model(self, run: dict, build) -> torch.nn.Module:
        """The final model of a COMPLETED run, from its GridFS artifact (cached per process)."""
        key = run["meta"]["config_hash"]
        if key not in self.models:
            payload = torch.load(io.BytesIO(self.store.artifact(run, "model.pt")), weights_only=True)
            model = build(run["config"])
            model.load_state_dict(payload["state_dict"])
            self.models[key] = model
        return self.models[key]

    def forget_embeddings(self) -> None:
        self.embeddings.clear()


def lists_to_tuples(d: dict) -> dict:
    """Sacred stores tuples as lists; dataclass configs want them back as tuples."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


def spec_of(train: dict) -> TrainSpec:
    return TrainSpec(**train)


def execution_of(config: dict) -> ExecutionSpec:
    return ExecutionSpec(**config.get("execution", {}))


def build_segmenter(config: dict) -> Segmenter:
    return Segmenter(tuple(config["model"]["widths"]), config["model"]["expand"])


def build_autoencoder(config: dict) -> Autoencoder:
    """The paper's topology, or a Section 5 variant (embedding channels, decoder widths and blocks)."""
    model = dict(config["model"])
    widths, expand = tuple(model.pop("widths")), model.pop("expand")
    if "decoder_widths" in model:
        model["decoder_widths"] = tuple(model["decoder_widths"])
    return Autoencoder(widths, expand, **model)


def dataset_stage(ws: Workspace, config: dict, ctx: RunContext, deps: list[dict]) -> dict:
    data = ws.dataset(config["data"], config["task"], config["split"])
    positives = data.masks.float().mean(dim=(0, 2, 3)).tolist()
    return {"size": len(data), "positive_fraction": positives, "coco_root": str(ws.coco_root(config["data"]))}


def teacher_stage(ws: Workspace, config: dict, ctx: RunContext, deps: list[dict]) -> dict:
    """deps: the dataset runs (built already; recorded for provenance)."""
    train = ws.dataset(config["data"], config["task"], TRAIN_SPLIT)
    test = ws.dataset(config["data"], config["task"], TEST_SPLIT)
    torch.manual_seed(config["seed"])
    model = build_segmenter(config)
    train_teacher(
        model, train, spec_of(config["train"]), config["seed"], ctx.log, ws.device, ctx, execution_of(config)
    )
    test_iou = evaluate_segmenter(model, test.images, test.masks, device=ws.device)
    ctx.add_artifact("model.pt", {"config": config["model"], "state_dict": model.cpu().state_dict()})
    return {"iou": test_iou, "train_size": len(train), "test_size": len(test)}


def query_of(ws: Workspace, config: dict) -> QuerySet:
    """The teachers' training sets, each once (replica teachers of a task share its images)."""
    tasks = list(dict.fromkeys(config["tasks"]))
    datasets = [ws.dataset(config["data"], t, TRAIN_SPLIT) for t in tasks]
    return QuerySet.from_tasks(datasets, [tasks.index(t) for t in config["tasks"]])


def teacher_names(tasks: list[str]) -> list[str]:
    """Metric names of the teachers: the task, and 'TASK~r' for its r-th replica (Section 5's scaling)."""
    seen: dict[str, int] = {}
    names = []
    for t in tasks:
        seen[t] = seen.get(t, 0) + 1
        names.append(t if seen[t] == 1 else f"{t}~{seen[t] - 1}")
    return names


def transfer_stage(ws: Workspace, config: dict, ctx: RunContext, teacher_runs: list[dict]) -> dict:
    """deps: the COMPLETED teacher runs, in the order of config['tasks']."""
    teachers = [ws.model(run, build_segmenter) for run in teacher_runs]
    query = query_of(ws, config)
    spec = spec_of(config["train"])
    schedule = make_schedule(
        config["schedule"], [len(t.layer_names) for t in teachers], spec.steps, spec.warmup_steps
    )
    tasks = teacher_names(config["tasks"])

    def log(step, metrics):  # name layer losses by teacher task: 'layer/BTS/L01_stem'
        named = {}
        for key, value in metrics.items():
            if key.startswith("t") and "/" in key:
                index, layer = key[1:].split("/", 1)
                key = f"layer/{tasks[int(index)]}/{layer}"
            named[key] = value
        ctx.log(step, named)

    torch.manual_seed(config["seed"])
    ae = build_autoencoder(config)
    train_mike(
        ae,
        teachers,
        query,
        spec,
        schedule,
        config["seed"],
        config["routing"],
        log,
        ws.device,
        ctx,
        execution_of(config),
    )
    ctx.add_artifact("model.pt", {"config": config["model"], "state_dict": ae.cpu().state_dict()})
    return {"query_size": len(query)}


def _machine_memory(device: str) -> int:
    """Memory the device offers: the GPU's, or this machine's RAM."""
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_properties(torch.device(device)).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def transfer_cost_stage(ws: Workspace, config: dict, ctx: RunContext, teacher_runs: list[dict]) -> dict:
    """Time and memory of an all-layers uniform transfer step from N teachers (Section 5's scaling).

    deps: the COMPLETED teacher runs, in the order of config['tasks'] (replicas included)."""
    teachers = [ws.model(run, build_segmenter) for run in teacher_runs]
    query = query_of(ws, config)
    torch.manual_seed(config["seed"])
    ae = build_autoencoder(config)
    schedule = make_schedule("uniform", [len(t.layer_names) for t in teachers], config["steps"])
    step_loss = mike_step_loss(ae, teachers, query, schedule, config["routing"], ws.device)
    cost = measure_steps(ae, teachers, step_loss, len(query), config["batch_size"], config["steps"], 0)
    return {
        **cost,
        "teachers": len(teachers),
        "query_size": len(query),
        "device": ws.device,
        "machine_memory_bytes": _machine_memory(ws.device),
    }


def baseline_stage(ws: Workspace, config: dict, ctx: RunContext, deps: list[dict]) -> dict:
    query = query_of(ws, config)
    torch.manual_seed(config["seed"])
    ae = build_autoencoder(config)
    train_pixelwise(
        ae,
        query.images,
        spec_of(config["train"]),
        config["seed"],
        ctx.log,
        ws.device,
        ctx,
        execution_of(config),
    )
    ctx.add_artifact("model.pt", {"config": config["model"], "state_dict": ae.cpu().state_dict()})
    return {"query_size": len(query)}


def downstream_stage(ws: Workspace, config: dict, ctx: RunContext, deps: list[dict]) -> dict:
    """Frozen encoder; a decoder (fresh, or the transferred one: config 'decoder') trained to output the
    task's masks; IoU / the teacher's IoU.

    deps: [the encoder's run (transfer or baseline), the task's teacher run].
    """
    encoder_run, teacher_run = deps
    ae = ws.model(encoder_run, build_autoencoder)
    keys = {
        split: (encoder_run["meta"]["config_hash"], config["task"], split)
        for split in (TRAIN_SPLIT, TEST_SPLIT)
    }
    # embedded once per encoder and dataset (a decoder study evaluates one encoder's embeddings twice)
    missing = [split for split, key in keys.items() if key not in ws.embeddings]
    if missing:
        images = [ws.dataset(config["data"], config["task"], split).images for split in missing]
        for split, z in zip(missing, embed_sets(ae.encoder, images, device=ws.device), strict=True):
            ws.embeddings[keys[split]] = z
    embeddings = {split: ws.embeddings[key] for split, key in keys.items()}
    train = ws.dataset(config["data"], config["task"], TRAIN_SPLIT)
    test = ws.dataset(config["data"], config["task"], TEST_SPLIT)
    torch.manual_seed(config["seed"])
    decoder = ae.downstream_decoder(config.get("decoder", "fresh"), out_channels=train.masks.shape[1])
    train_decoder(
        decoder,
        embeddings[TRAIN_SPLIT],
        train.masks,
        spec_of(config["train"]),
        config["seed"],
        ctx.log,
        ws.device,
        execution_of(config),
    )
    value = evaluate_segmenter(decoder, embeddings[TEST_SPLIT], test.masks, device=ws.device)
    teacher_iou = teacher_run["result"]["iou"]
    return {"iou": value, "teacher_iou": teacher_iou, "normalised_iou": normalised_iou(value, teacher_iou)}
