"""One report per profile from the run store: figures, tables, claim verdicts, deviations, provenance."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tomllib
from pathlib import Path

import pandas as pd

from benchmark.report import claims as claims_mod
from benchmark.report import figures
from benchmark.report.data import ReportData, load, profiles_in, single_teacher
from benchmark.report.document import Document
from benchmark.report.stats import mean_sd
from benchmark.store import RunStore
from mike.featpred.procedures import PROCEDURES
from mike.profiles import get_profile

DEVIATIONS_FILE = claims_mod.CLAIMS_FILE.parent / "deviations.toml"
SUITE_ORDER = ("single", "three", "eleven", "progressive", "losses")
LABELS = {
    "smoke": (
        "smoke",
        "SMOKE PROFILE: a plumbing test on a few images and steps. NOT a reproduction; "
        "no verdict below says anything about the papers.",
    ),
    "small": (
        "small",
        "SMALL PROFILE: a reduced-scale reproduction (narrow models, fewer images and steps, "
        "see Deviations). Verdicts are about this scale.",
    ),
    "paper": ("paper", "PAPER PROFILE: the papers' model sizes and training lengths."),
}


class ReportError(RuntimeError):
    """Nothing to report (empty store, or no results for the suite asked for)."""


def suites_present(data: ReportData) -> list[str]:
    d, present = data.downstream, []
    if not d.empty:
        if (single_teacher(d)["kind"] == "pixel-wise").any():
            present.append("single")
        if (d["encoder_tasks"] == claims_mod.three_column(data)).any():
            present.append("three")
        if (d["n_teachers"] == 11).any():
            present.append("eleven")
    if not data.transfer.empty and (data.transfer["schedule"] == "progressive").any():
        present.append("progressive")
    if not data.probes.empty:
        present.append("losses")
    return present


def _pm(values) -> str:
    mean, sd = mean_sd(values)
    return f"{mean:.3f} ± {sd:.3f}" if len(values) > 1 else f"{mean:.3f}"


def _ids(values, limit: int = 6) -> str:
    values = [str(v) for v in values]
    return ", ".join(values[:limit]) + (f" … (+{len(values) - limit})" if len(values) > limit else "")


def _mike_sections(doc: Document, data: ReportData, store: RunStore, suites: list[str]) -> None:
    d = data.downstream
    if "single" in suites:
        doc.heading("MIKE, Figure 3: single-teacher encoders vs the pixel-wise baseline")
        doc.figure(
            figures.figure3(data),
            "Figure 3 reproduction: normalised IoU per downstream task, mean over seeds (band: ± sd).",
        )
        rows = []
        for enc, g in single_teacher(d).groupby("encoder_tasks"):
            mike, base = g[g["kind"] == "MIKE"], g[g["kind"] == "pixel-wise"]
            ahead = mike.groupby("task")["value"].mean().sub(base.groupby("task")["value"].mean())
            wins = int((ahead > 0).sum())
            rows.append(
                [
                    enc,
                    _pm(mike.groupby("seed")["value"].mean()),
                    _pm(base.groupby("seed")["value"].mean()),
                    f"{wins}/{mike['task'].nunique()}",
                    _ids(sorted(set(g["encoder_run"]))),
                ]
            )
        doc.table(
            ["teacher", "MIKE avg", "baseline avg", "MIKE ahead on", "encoder runs"],
            rows,
            "Averages over the 11 tasks (± sd over seeds). Downstream run ids: Provenance.",
        )
    if "three" in suites or "eleven" in suites:
        doc.heading("MIKE, Figure 4: one, three and eleven teachers")
        fig = figures.figure4(data, claims_mod.three_column(data))
        if fig is not None:
            doc.figure(
                fig,
                "Figure 4 reproduction: MIKE encoders from the CTB teacher, three teachers and all eleven.",
            )
        mike = d[(d["kind"] == "MIKE") & (d["schedule"] == "uniform")]
        rows = [
            [enc, _pm(g.groupby("seed")["value"].mean()), _ids(sorted(set(g["encoder_run"])))]
            for enc, g in mike.groupby("encoder_tasks")
            if enc.count("+") in (0, 2, 10)
        ]
        doc.table(["MIKE encoder (teachers)", "avg normalised IoU", "encoder runs"], rows)
    if "progressive" in suites:
        task = get_profile(data.profile).suites.progressive_task
        doc.heading(f"MIKE, Figures 5–6: per-layer loss, uniform vs last-layer progressive ({task})")
        fig, ids = figures.figures56(data, store, task)
        if fig is not None:
            doc.figure(fig, f"Per-layer transfer loss against batch (lowest seed); runs {_ids(ids)}.")


def _losses_sections(doc: Document, data: ReportData, claims: list[dict]) -> None:
    p = data.probes
    doc.heading("Feature prediction, Figures 6–8: probe metric vs training time per epoch")
    for dataset, number in (("lunar_lander", 6), ("stl10", 7), ("svhn", 8)):
        fig = figures.fp_figure(data, dataset, number)
        if fig is None:
            doc.text(
                f"Figure {number} ({figures.DATASET_NAMES[dataset]}): no runs (dataset files not given)."
            )
        else:
            doc.figure(
                fig, f"Figure {number} reproduction: one point per procedure and z; mean ± sd over seeds."
            )
    rows = []
    for (dataset, procedure, z), g in p.groupby(["dataset", "procedure", "z"]):
        rows.append(
            [
                figures.DATASET_NAMES.get(dataset, dataset),
                procedure,
                z,
                g["metric"].iloc[0],
                _pm(g["value"]),
                _pm(g["constant"].dropna()) if g["constant"].notna().any() else "—",
                _pm(g["epoch_seconds"]),
                _pm(g["epoch_cpu_seconds"]),
                g["seed"].nunique(),
                ", ".join(sorted(set(g["loss_network"]))),
                _ids(g["run_id"]),
            ]
        )
    doc.table(
        [
            "dataset",
            "procedure",
            "z",
            "metric",
            "test metric",
            "constant guess",
            "s / epoch (wall)",
            "s / epoch (CPU)",
            "seeds",
            "loss network",
            "probe runs",
        ],
        rows,
        "Mean ± uncorrected sd over seeds. The selected probe is the one with the lowest validation loss. "
        "Constant guess: the metric of predicting the training mean position (or majority class).",
    )
    doc.heading("Feature prediction, Table II: mean ± sd over seeds and z", 3)
    reference = {
        (v["procedure"], v["dataset"]): v
        for c in claims
        if c["kind"] == "fp_reference_values"
        for v in c["values"]
    }
    datasets = [ds for ds in ("lunar_lander", "stl10", "svhn") if (p["dataset"] == ds).any()]
    rows = []
    for procedure in PROCEDURES:
        row = [procedure]
        for ds in datasets:
            g = p[(p["dataset"] == ds) & (p["procedure"] == procedure)]
            ref = reference.get((procedure, ds))
            paper = f" (paper {ref['mean']} ± {ref['sd']})" if ref else ""
            row.append((_pm(g["value"]) if not g.empty else "—") + paper)
        rows.append(row)
    doc.table(
        ["procedure", *[figures.DATASET_NAMES[d] for d in datasets]],
        rows,
        "LunarLander: mean Euclidean distance in normalised coordinates (the paper's unit is not stated).",
    )
    doc.text("Table I (SVHN, z = 500, probes trained on the extra set) is not run by the suite; see Claims.")


def _deviations(data: ReportData, suites: list[str]) -> list[str]:
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
    if any(f.startswith("suite:") and f[6:] in ("three", "eleven", "progressive") for f in flags):
        flags.add("suite:single")  # the MIKE method choices apply to every MIKE suite
    items = [f"{e['paper']}: {e['text']}" for e in entries if e["when"] in flags]
    items += [f"Profile {data.profile}, {k}: {v}" for k, v in get_profile(data.profile).reduced.items()]
    return items


def build(
    store: RunStore, profile: str, suite: str | None, out_root: Path, today: dt.date | None = None
) -> Path:
    data = load(store, profile)
    present = suites_present(data)
    if suite is not None and suite not in present:
        raise ReportError(
            f"no results for suite {suite!r} (profile {profile}) in the store; "
            f"run `mike-bench suite {suite} --profile {profile}` first"
        )
    suites = [suite] if suite else present
    if not suites:
        raise ReportError(f"no suite results for profile {profile} in the store")
    css, banner = LABELS.get(profile, (None, f"profile {profile}"))
    doc = Document(f"mike-bench report: {', '.join(suites)} ({profile} profile)")
    doc.text(banner, css)
    runs = data.runs
    doc.bullets(
        [
            f"Built {dt.datetime.now():%Y-%m-%d %H:%M} from {store.url}: {len(runs)} COMPLETED runs.",
            f"Git commits: {', '.join(sorted(set(runs['git_commit'].dropna().astype(str))))}.",
            f"Hardware: {'; '.join(sorted({_hardware(h) for h in runs['hardware']}))}.",
        ]
    )
    claims = claims_mod.load_claims()
    verdicts = claims_mod.evaluate(claims, data, store, set(suites))
    doc.heading("Verdicts")
    prefix = "smoke run, not a reproduction: " if profile == "smoke" else ""
    doc.table(
        ["claim", "source", "verdict", "measured"],
        [[v.claim["statement"], v.claim["source"], v.verdict, prefix + v.measured] for v in verdicts],
    )
    _mike_sections(doc, data, store, suites)
    if "losses" in suites:
        _losses_sections(doc, data, claims)
    doc.heading("Claims: what each paper states, and how it is judged")
    for v in verdicts:
        c = v.claim
        doc.heading(f"{c['paper']}: {c['source']}", 3)
        doc.bullets(
            [
                f"Claim: {c['statement']}",
                f"Metric: {c['metric']}",
                f"Statistic: {c['statistic']}",
                f"Judged: {c['judge']}",
                f"Measured: {v.measured}",
                f"Verdict: {v.verdict}",
                f"Runs: {_ids(v.run_ids, 12) or 'none'}",
            ]
        )
    doc.heading("Deviations from the papers")
    doc.bullets(_deviations(data, suites))
    doc.heading("Provenance: every run behind this report")
    doc.table(
        ["run id", "stage", "label", "config hash", "git commit", "hardware", "seconds"],
        [
            [
                r.run_id,
                r.stage,
                r.label,
                r.config_hash,
                str(r.git_commit)[:10],
                _hardware(r.hardware),
                f"{r.seconds or 0:.1f}",
            ]
            for r in runs.sort_values("stage").itertuples()
        ],
    )
    return _write(doc, runs, out_root, f"{(today or dt.date.today()).isoformat()}-{profile}")


def _hardware(h: dict) -> str:
    if not isinstance(h, dict):
        return "unknown"
    return (
        f"{h.get('machine')} {h.get('cpus')} CPUs, {h.get('torch_threads')} torch threads, GPU {h.get('gpu')}"
    )


def _write(doc: Document, runs: pd.DataFrame, out_root: Path, name: str) -> Path:
    """Write into a scratch folder, then swap it in; `latest` points at it."""
    out_root.mkdir(parents=True, exist_ok=True)
    scratch = out_root / f".{name}.tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    doc.write(scratch)
    runs.assign(hardware=runs["hardware"].map(_hardware)).to_csv(scratch / "runs.csv", index=False)
    final = out_root / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(scratch, final)
    latest = out_root / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(name, target_is_directory=True)
    return final


def build_all(store: RunStore, suite: str | None, profile: str | None, out_root: Path) -> list[Path]:
    profiles = [profile] if profile else profiles_in(store)
    if not profiles:
        raise ReportError(
            f"the store at {store.url} holds no completed runs; run a suite first, "
            "e.g. `mike-bench suite single --profile smoke`"
        )
    order = {"smoke": 0, "small": 1, "paper": 2}  # the largest profile is written last: `latest`
    built, errors = [], []
    for name in sorted(profiles, key=lambda p: order.get(p, 3)):
        try:
            built.append(build(store, name, suite, out_root))
        except ReportError as exc:
            errors.append(str(exc))
    if not built:
        raise ReportError(errors[0])
    return built
