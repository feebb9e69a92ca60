"""Stage name → the code that runs it. Suites only name stages; the runner imports a stage's module when a
run of that stage is actually executed (so planning, status and report never import torch for it)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

STAGE_CODE = {
    "dataset": "benchmark.stages:dataset_stage",
    "teacher": "benchmark.stages:teacher_stage",
    "transfer": "benchmark.stages:transfer_stage",
    "transfer_cost": "benchmark.stages:transfer_cost_stage",
    "sequential": "benchmark.sequential_stage:sequential_stage",
    "baseline": "benchmark.stages:baseline_stage",
    "downstream": "benchmark.stages:downstream_stage",
    "loss_network": "benchmark.loss_stages:loss_network_stage",
    "collection": "benchmark.loss_stages:collection_stage",
    "autoencoder": "benchmark.loss_stages:autoencoder_stage",
    "probe": "benchmark.loss_stages:probe_stage",
    "simple_cnn": "benchmark.loss_stages:simple_cnn_stage",
}


def stage_body(stage: str) -> Callable:
    """body(workspace, config, ctx, dependency run documents) -> flat result dict."""
    if stage not in STAGE_CODE:
        raise KeyError(f"no code registered for stage {stage!r}")
    module, name = STAGE_CODE[stage].split(":")
    return getattr(importlib.import_module(module), name)
