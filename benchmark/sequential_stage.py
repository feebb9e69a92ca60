"""The sequential-transfer stage (MIKE Section 5): one teacher of the sequence, continuing from the
previous step's autoencoder (and, with EWC, its penalty), stored like a transfer run so that downstream
runs read it the same way."""

from __future__ import annotations

import io
import time

import torch

from benchmark.runs import RunContext
from benchmark.stages import Workspace, build_autoencoder, build_segmenter, query_of, spec_of
from mike.training.ewc import EwcPenalty
from mike.training.sequential import consolidate, train_step


def _load(ws: Workspace, run: dict, name: str) -> dict:
    return torch.load(io.BytesIO(ws.store.artifact(run, name)), weights_only=True)


def sequential_stage(ws: Workspace, config: dict, ctx: RunContext, deps: list[dict]) -> dict:
    """deps: [the teacher of this step, the previous step's run (absent at the first step)]."""
    teacher_run, *previous = deps
    teacher = ws.model(teacher_run, build_segmenter)
    query = query_of(ws, config)
    torch.manual_seed(config["seed"] * 1000 + config["step"])
    ae = build_autoencoder(config)  # its own copy: the previous step's model may be cached for downstream
    penalty = None
    if previous:
        ae.load_state_dict(_load(ws, previous[0], "model.pt")["state_dict"])
        if config["ewc_lambda"] > 0:
            penalty = EwcPenalty.from_state_dict(_load(ws, previous[0], "ewc.pt"))
    task = config["tasks"][0]

    def log(step, metrics):  # as a transfer run: 'layer/BTS/L01_stem'
        ctx.log(
            step, {(f"layer/{task}/{k[3:]}" if k.startswith("t0/") else k): v for k, v in metrics.items()}
        )

    spec = spec_of(config["train"])
    seed = config["seed"] * 1000 + config["step"]
    start = time.perf_counter()
    train_step(ae, teacher, query, spec, seed, penalty, config["ewc_lambda"], log, ws.device, ctx)
    seconds = time.perf_counter() - start
    result = {
        "query_size": len(query),
        "seconds_per_step": seconds / max(spec.steps, 1),
        "teacher_bytes": sum(t.numel() * t.element_size() for t in teacher.parameters()),
        "autoencoder_bytes": sum(t.numel() * t.element_size() for t in ae.parameters()),
    }
    if config["ewc_lambda"] > 0:
        penalty = consolidate(ae, teacher, query, penalty, config["fisher_samples"], seed, ws.device)
        ctx.add_artifact("ewc.pt", penalty.state_dict())
        held = [t for part in penalty.state_dict().values() for t in part.values()]
        result["ewc_bytes"] = sum(t.numel() * t.element_size() for t in held)  # Fisher and anchor
    ctx.add_artifact("model.pt", {"config": config["model"], "state_dict": ae.cpu().state_dict()})
    return result
