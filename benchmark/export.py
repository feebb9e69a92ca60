"""`mike-bench export`: the trained models of a suite, out of the store, as a reproducibility checklist asks
for them. Each model is a plain `torch.save` state dict beside a model card (what it is, the run that
made it, commit, data, result, and how to load it); an index lists them. The suite's plan says which runs
are its own (runs are shared between suites), so what is exported is exactly what the suite used."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import torch

from benchmark.store import RunStore
from mike.errors import UserError
from suites.plan import Planned

# stage → (what the model is, the class that loads it, how it is built from the run's config)
MODELS = {
    "teacher": (
        "teacher segmenter",
        "mike.models.segmenter import Segmenter",
        "Segmenter({widths}, {expand})",
    ),
    "transfer": (
        "MIKE autoencoder (encoder + decoder)",
        "mike.models.autoencoder import Autoencoder",
        "Autoencoder({widths}, {expand}{variant})",
    ),
    "sequential": (
        "MIKE autoencoder after one step of sequential transfer (Section 5)",
        "mike.models.autoencoder import Autoencoder",
        "Autoencoder({widths}, {expand}{variant})",
    ),
    "baseline": (
        "pixel-wise autoencoder (encoder + decoder)",
        "mike.models.autoencoder import Autoencoder",
        "Autoencoder({widths}, {expand})",
    ),
    "autoencoder": (
        "feature-prediction procedure's coders (kept with losses.keep_models=True)",
        "mike.featpred.procedures import ProcedureAutoencoder",
        "ProcedureAutoencoder({procedure!r}, {image_size}, {z}, {feature_size}, {gamma})",
    ),
}


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")


def export_models(plan: list[Planned], store: RunStore, out: Path, suite: str) -> list[Path]:
    """Write every model the suite's COMPLETED runs stored; returns the model files. A suite with none
    stored yet is a one-line error naming what to run."""
    wanted = [p for p in plan if p.spec.stage in MODELS]
    written, missing = [], 0
    rows = []
    for planned in wanted:
        run = store.completed(planned.spec.hash)
        model = store.artifact(run, "model.pt") if run else None
        if model is None:
            missing += run is None
            continue
        state = torch.load(io.BytesIO(model), weights_only=True)
        folder = out / planned.spec.stage
        folder.mkdir(parents=True, exist_ok=True)
        # a label can repeat in a plan (one encoder trained to two lengths): the hash tells them apart
        name = f"{slug(planned.spec.label)}-{planned.spec.hash[:8]}"
        torch.save(state["state_dict"], folder / f"{name}.pt")
        (folder / f"{name}.md").write_text(model_card(planned, run, name, store.url))
        written.append(folder / f"{name}.pt")
        link = f"[{planned.spec.label}]({planned.spec.stage}/{name}.md)"
        rows.append(f"| {planned.spec.stage} | {link} | {run['_id']} |")
    if not written:
        why = (
            f" ({missing} runs still to train): run `mike-bench suite {suite}` with the same options first"
            if missing
            else ": its runs kept no models (feature-prediction coders are kept with "
            "`with losses.keep_models=True`)"
        )
        raise UserError(f"no trained models of suite {suite} are stored{why}")
    index = [
        f"# Trained models of suite `{suite}`",
        "",
        f"From {store.url}. {len(written)} models"
        + (f"; {missing} runs of the suite are not trained yet." if missing else "."),
        "",
        "| stage | model | Sacred run |",
        "| --- | --- | --- |",
        *rows,
        "",
    ]
    (out / "index.md").write_text("\n".join(index))
    return written


def model_card(planned: Planned, run: dict, name: str, store: str) -> str:
    config = run["config"]
    what, module, build = MODELS[planned.spec.stage]
    model = config.get("model", {})
    stored = run.get("result") or {}
    fields = {
        **model,
        **{k: config.get(k) for k in ("procedure", "z", "gamma")},
        **{k: stored.get(k) for k in ("image_size", "feature_size")},  # what the FP coders were built with
    }
    fields["widths"] = tuple(model.get("widths", ()))
    # Section 5's variants: the keyword arguments that differ from the paper's topology
    fields["variant"] = "".join(
        f", {k}={tuple(model[k]) if isinstance(model[k], list) else model[k]!r}"
        for k in ("embedding_channels", "decoder_widths", "decoder_blocks")
        if k in model
    )
    result = {k: v for k, v in (run.get("result") or {}).items() if isinstance(v, int | float | str)}
    data = config.get("data", {})
    source = (
        data.get("coco_root") or ("synthetic COCO" if data.get("synthetic") else None) or data.get("dataset")
    )
    return "\n".join(
        [
            f"# {planned.spec.label}",
            "",
            f"- **What**: {what}.",
            f"- **Run**: Sacred run {run['_id']} in {store} (config hash `{planned.spec.hash}`), "
            f"profile {config.get('profile')}, seed {config.get('seed')}.",
            f"- **Commit**: `{run.get('info', {}).get('git_commit', 'unknown')}`.",
            f"- **Data**: {source or 'see the config'}.",
            "- **Result**: "
            + (
                ", ".join(
                    f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in result.items()
                )
                or "—"
            ),
            "",
            "## Load it",
            "",
            "```python",
            f"import torch; from {module}",
            f"model = {build.format(**fields)}",
            f'model.load_state_dict(torch.load("{name}.pt")); model.eval()',
            "```",
            "",
            "## Config",
            "",
            "```json",
            json.dumps(config, indent=2, default=str),
            "```",
            "",
        ]
    )
