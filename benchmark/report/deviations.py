"""The Deviations section: reports/deviations.toml entries that apply, the profile's reduced-scale notes,
and the choices each setting's runs actually made (pixel-wise warm-up, downstream decoder)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd

from benchmark.report.data import ReportData
from benchmark.report.settings import Setting
from mike.profiles import get_profile

DEVIATIONS_FILE = Path(__file__).resolve().parents[2] / "reports" / "deviations.toml"
DECODERS = {
    "fresh": "a fresh decoder trained on the frozen embeddings (the default: what the encoder learned is "
    "tested without the transferred decoder's weights)",
    "finetune": "the transferred decoder fine-tuned (Section 5: knowledge may also sit in the decoder)",
}


def deviations(
    data: ReportData, suites: list[str], mike_settings: list[tuple[Setting, ReportData]]
) -> list[str]:
    with open(DEVIATIONS_FILE, "rb") as f:
        entries = tomllib.load(f)["deviation"]
    flags = {"always", *(f"suite:{s}" for s in suites)}
    if data.data_sources["synthetic_coco"]:
        flags.add("synthetic_coco")
    if "substitute" in data.data_sources["loss_networks"]:
        flags.add("substitute_loss_network")
    if "losses" in suites:
        datasets = set(data.probes["dataset"])
        flags |= {f"no_{d}" for d in ("svhn", "stl10") if d not in datasets}
    mike_suites = ("three", "eleven", "progressive", "bottleneck", "decoder", "scaling", "sequential")
    if any(f.startswith("suite:") and f[6:] in mike_suites for f in flags):
        flags.add("suite:single")  # the MIKE method choices apply to every MIKE suite
    items = [f"{e['paper']}: {e['text']}" for e in entries if e["when"] in flags]
    items += [mike_choices(setting, part) for setting, part in mike_settings]
    items += [f"Profile {data.profile}, {k}: {v}" for k, v in get_profile(data.profile).reduced.items()]
    return items


def mike_choices(setting: Setting, data: ReportData) -> str:
    """Which pixel-wise warm-up and which downstream decoder the MIKE runs of a setting used."""
    d = data.downstream
    mike = d[d["kind"] == "MIKE"] if not d.empty else d
    warm = pd.concat(
        [
            data.transfer.get("warmup_steps", pd.Series(dtype=float)),
            mike.get("warmup_steps", pd.Series(dtype=float)),
        ]
    ).dropna()
    steps = sorted({int(w) for w in warm})
    if not steps:
        warmup = "pixel-wise warm-up: not recorded"
    elif steps == [0]:
        warmup = (
            "no pixel-wise warm-up (as the paper's experiments: all-layer uniform and last-layer progressive)"
        )
    else:
        warmup = (
            f"pixel-wise warm-up of {', '.join(map(str, steps))} steps before the schedule — an ablation "
            "(Section 3.3 says it 'could help'; the paper's experiments do not use it)"
        )
    decoders = sorted(set(data.downstream["decoder"].dropna())) if not data.downstream.empty else []
    decoder = "; ".join(f"downstream decoder: {DECODERS.get(d, d)}" for d in decoders) or "no downstream runs"
    return f"{setting.label} ({setting.summary()}): {warmup}; {decoder}."
