"""One report per profile from the run store: figures, tables, claim verdicts, deviations, provenance."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pandas as pd

from benchmark.report import claims as claims_mod
from benchmark.report.claims import Verdict
from benchmark.report.claims.common import min_seeds
from benchmark.report.claims.preconditions import family_checks
from benchmark.report.data import ReportData, load, profiles_in, single_teacher, split_by_setting
from benchmark.report.deviations import deviations
from benchmark.report.document import Document
from benchmark.report.format import ids_text
from benchmark.report.losses_sections import losses_sections
from benchmark.report.mike_sections import mike_sections
from benchmark.report.section5_sections import section5_sections
from benchmark.report.settings import Setting
from benchmark.store import RunStore
from mike.profiles import PROFILES, get_profile

SUITE_ORDER = (
    *("single", "three", "eleven", "progressive", "losses"),
    *("bottleneck", "decoder", "scaling", "sequential"),
)
MIKE_SUITES = {"single", "three", "eleven", "progressive"}
SECTION5_SUITES = {"bottleneck", "decoder", "scaling", "sequential"}
SECTION5 = "MIKE Section 5"
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
    "cpu": (
        "cpu",
        "CPU PROFILE: `small`'s models with lengths and seeds chosen by a power analysis to decide what "
        "can be decided in 90 minutes on 2 CPU cores (see Methods and Deviations). Verdicts are about "
        "this scale.",
    ),
    "paper": ("paper", "PAPER PROFILE: the papers' model sizes and training lengths."),
}


class ReportError(RuntimeError):
    """Nothing to report (empty store, or no results for the suite asked for)."""


def _has_progressive(data: ReportData) -> bool:
    return not data.transfer.empty and bool((data.transfer["schedule"] == "progressive").any())


def suites_present(data: ReportData) -> list[str]:
    d, present = data.downstream, []
    if not d.empty:
        kinds = set(single_teacher(d)["kind"])
        # the pixel-wise baselines are shared by every MIKE setting: beside the progressive suite's own
        # encoders (a setting of their own, with no downstream runs) they do not make `single` present
        if "MIKE" in kinds or ("pixel-wise" in kinds and not _has_progressive(data)):
            present.append("single")
        mike = d[d["kind"] == "MIKE"]  # Figure 4 compares MIKE encoders; their baselines are shared
        if (mike["encoder_tasks"] == claims_mod.three_column(data)).any():
            present.append("three")
        if (mike["n_teachers"] == 11).any():
            present.append("eleven")
    if _has_progressive(data):
        present.append("progressive")
    if not data.probes.empty:
        present.append("losses")
    s5 = data.section5_downstream
    studies = set(s5["study"].dropna()) if not s5.empty else set()
    if "bottleneck" in studies or (
        not data.section5_transfer.empty and (data.section5_transfer["embedding_channels"] != 2).any()
    ):
        present.append("bottleneck")
    if "decoder" in studies:
        present.append("decoder")
    if not data.transfer_cost.empty:
        present.append("scaling")
    if "sequential" in studies or not data.sequential.empty:
        present.append("sequential")
    return present


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
    _methods(doc, profile)
    judged = _judge_by_setting(doc, data, store, claims, suites, profile)
    for setting, part, _ in judged:
        suffix = f" ({setting.label})" if _several(judged, setting.family) else ""
        if setting.family == "MIKE":  # a setting's figures: those of the suites that have runs in it
            mike_sections(doc, part, store, [s for s in suites if s in suites_present(part)], suffix)
        elif setting.family == SECTION5:
            section5_sections(doc, part, store, suites)
        else:
            losses_sections(doc, part, store, claims, suffix)
    _claim_details(doc, judged)
    doc.heading("Deviations from the papers")
    doc.bullets(deviations(data, suites, [(s, part) for s, part, _ in judged if s.family == "MIKE"]))
    doc.heading("Provenance: every run behind this report")
    doc.text(_models_text(out_root, profile))
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


def _methods(doc: Document, profile: str) -> None:
    """How verdicts are reached, and how this profile's sizes were chosen (its power analysis)."""
    doc.heading("Methods")
    doc.bullets(
        [
            "Unit of evidence: the seed (an independent training run). Tasks, z values and layers inside a "
            "seed are averaged into one value per seed first; a comparison is a one-sided t test over those "
            "values at α = 0.05. A claim of many comparisons holds when every one is significant as claimed "
            '(intersection-union: each at α, no correction; "at least k of m": Holm within the m) and '
            "fails when enough are significantly against it, or short of the smallest effect that matters "
            '(Holm over all). Equivalence claims ("about", "within", "comparable") use two '
            "one-sided tests per bound (TOST). Figure 9's collapse and near-optimal claims are count rules "
            "over seeds: no interval. Each comparison prints its seed mean and a 90% two-sided t interval "
            f"(the one-sided 95% bounds). Below a claim's minimum seeds ({_seed_floors()}): inconclusive.",
            "Preconditions, checked before every verdict: teachers well above the constant predictor; "
            "embeddings clearly better than the constant guess (over seeds); autoencoders stopped for "
            "patience. A claim on runs that fail one is inconclusive and names it.",
            "Power: beside each verdict, the minimum detectable effect (80% power) at its seeds and the "
            "seeds that would detect its smallest effect that matters (both from the observed spread).",
        ]
    )
    design = get_profile(profile).design if profile in PROFILES else {}
    if design:
        doc.text(f"How the {profile} profile's sizes were chosen (power analysis from pilot runs):")
        doc.bullets([f"{k}: {v}" for k, v in design.items()])


def _models_text(out_root: Path, profile: str) -> str:
    """Where the trained models are: the exports already beside the reports (`mike-bench export`'s
    default folder), linked, or the command that writes them."""
    exported = sorted((out_root / "models").glob(f"*-{profile}/index.md"))
    if exported:
        links = ", ".join(f"[{p.parent.name}](../models/{p.parent.name}/index.md)" for p in exported)
        return f"Trained models, with a model card each (`mike-bench export`): {links}."
    return (
        "Trained models: `mike-bench export <suite> --profile "
        f"{profile}` writes them, with a model card each, to `{out_root}/models/<suite>-{profile}/`."
    )


def _seed_floors() -> str:
    floors = sorted({min_seeds(c) for c in claims_mod.load_claims() if c["kind"] != "not_run"})
    return " or ".join(str(f) for f in floors)


def _several(judged, family: str) -> bool:
    return sum(s.family == family for s, _, _ in judged) > 1


def _judge_by_setting(
    doc: Document, data: ReportData, store: RunStore, claims: list[dict], suites: list[str], profile: str
) -> list[tuple[Setting, ReportData, list[Verdict]]]:
    """The Verdicts section: one table per setting, each claim judged on that setting's runs only."""
    doc.heading("Verdicts")
    doc.text(
        "Each setting is a set of runs that may be compared: runs that differ in anything but seed, task, "
        "procedure, z or schedule (data source, loss network, training options) are never averaged together. "
        "Verdicts use seeds as the unit of evidence (reports/claims.toml says how); MDE: the minimum "
        "detectable effect at 80% power given the observed spread across seeds; seeds for 80% power: how "
        "many seeds every comparison of the claim needs to detect its smallest effect that matters (or, "
        "without one, the effect observed) at that spread — the power analysis for the next run."
    )
    params = claims_mod.load_preconditions()
    families = [
        ("MIKE", set(suites) & MIKE_SUITES),
        ("feature prediction", set(suites) & {"losses"}),
        (SECTION5, set(suites) & SECTION5_SUITES),
    ]
    prefix = "smoke run, not a reproduction: " if profile == "smoke" else ""
    judged = []
    for family, family_suites in families:
        if not family_suites:
            continue
        for setting, part in _settings(data, family):
            here = family_suites & set(suites_present(part))  # a progressive-only setting: its claim only
            verdicts = claims_mod.evaluate(claims, part, store, here, setting.label, params)
            judged.append((setting, part, verdicts))
            doc.heading(f"{setting.label}: {setting.summary()}", 3)
            checks = family_checks(family, part, params)
            if checks:
                doc.text(
                    "Preconditions, checked before the verdicts (a claim on runs failing one: inconclusive):"
                )
                doc.table(
                    ["precondition", "status", "measured"], [[c.name, c.status, c.detail] for c in checks]
                )
            doc.table(
                [
                    "claim",
                    "source",
                    "verdict",
                    "n seeds",
                    "test",
                    "MDE (80% power)",
                    "seeds for 80% power",
                    "measured",
                ],
                [
                    [
                        v.claim["statement"],
                        v.claim["source"],
                        v.verdict,
                        "—" if v.n_seeds is None else v.n_seeds,
                        v.method,
                        v.mde,
                        v.seeds_needed,
                        prefix + (f"[{v.label}] " if v.label else "") + v.measured,
                    ]
                    for v in verdicts
                ],
            )
    return judged


def _settings(data: ReportData, family: str) -> list[tuple[Setting, ReportData]]:
    """A family's settings; Section 5's studies are one setting each suite varies in its own way."""
    if family == SECTION5:
        return [(Setting(SECTION5, "S", (), ("the profile's default, one thing varied per suite",)), data)]
    return split_by_setting(data, family)


def _claim_details(doc: Document, judged) -> None:
    doc.heading("Claims: what each paper states, and how it is judged")
    for setting, _, verdicts in judged:
        for v in verdicts:
            c = v.claim
            doc.heading(f"{c['paper']}: {c['source']} ({setting.label})", 3)
            doc.bullets(
                [
                    f"Claim: {c['statement']}",
                    f"Metric: {c['metric']}",
                    f"Statistic: {c['statistic']}",
                    f"Judged: {c['judge']}",
                    f"Setting: {setting.label}: {setting.summary()}" + (f" — {v.label}" if v.label else ""),
                    f"Seeds: {'—' if v.n_seeds is None else v.n_seeds}; test: {v.method}; "
                    f"MDE (80% power): {v.mde}; seeds for 80% power: {v.seeds_needed}",
                    *[f"Precondition: {c.name}: {c.status} — {c.detail}" for c in v.preconditions],
                    f"Measured: {v.measured}",
                    f"Verdict: {v.verdict}",
                    f"Runs: {ids_text(v.run_ids, 12) or 'none'}",
                ]
            )


def _hardware(h: dict) -> str:
    if not isinstance(h, dict):
        return "unknown"
    return (
        f"{h.get('machine')} {h.get('cpus')} CPUs"
        + (f" ({h['cpu_capability']} kernels)" if h.get("cpu_capability") else "")
        + f", {h.get('torch_threads')} torch threads, GPU {h.get('gpu')}"
    )


def _write(doc: Document, runs: pd.DataFrame, out_root: Path, name: str) -> Path:
    """Write the report aside, then move it whole into a folder of its own (`name`, else `name-2`, ...):
    nothing already in out_root is replaced, neither a report of the same day nor a person's file.
    `latest` then points at the new folder."""
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        latest = _latest_link(out_root)
        scratch = out_root / f".{name}.{os.getpid()}.tmp"  # this process's own: safe to clear
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            doc.write(scratch)
            runs.assign(hardware=runs["hardware"].map(_hardware)).to_csv(scratch / "runs.csv", index=False)
            final = _claim_folder(out_root, name)
            os.replace(scratch, final)  # over the empty folder just claimed: the report appears whole
        finally:
            shutil.rmtree(scratch, ignore_errors=True)  # left only when writing failed
        _point(latest, final.name)
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out_root}: {exc.strerror or exc}") from None
    return final


def _latest_link(out_root: Path) -> Path:
    """`latest`, refused before writing when it is not the link reports keep (a person's file or folder)."""
    latest = out_root / "latest"
    if latest.exists() and not latest.is_symlink():
        raise ReportError(f"{latest} is not the link mike-bench keeps there; move it away and report again")
    return latest


def _claim_folder(out_root: Path, name: str) -> Path:
    """The first free one of `name`, `name-2`, `name-3`, ..., created empty by this call (mkdir is atomic:
    two reports at once never get the same folder)."""
    n = 1
    while True:
        folder = out_root / (name if n == 1 else f"{name}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1


def _point(latest: Path, target: str) -> None:
    """Swap `latest` over to target in one rename, so that it is never missing or half made."""
    link = latest.with_name(f".latest.{os.getpid()}")
    link.unlink(missing_ok=True)
    link.symlink_to(target, target_is_directory=True)
    os.replace(link, latest)


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
