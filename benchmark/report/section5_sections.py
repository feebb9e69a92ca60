"""The report's sections for MIKE's Section 5 studies (suites bottleneck, decoder, scaling)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from benchmark.report import figures, section5_figures
from benchmark.report.claims.instability import DEFAULT_MIN_POINTS, DEFAULT_WINDOW
from benchmark.report.claims.section5 import bottleneck_contrasts, capacity
from benchmark.report.claims.sequential import forgetting, forgetting_matrices, studied_sequence, variant_name
from benchmark.report.data import ReportData
from benchmark.report.document import Document
from benchmark.report.format import ids_text, pm
from benchmark.report.step_memory import StepMemoryModel, fit_step_memory
from benchmark.report.variants import of_study
from benchmark.store import RunStore
from mike.data.tasks import TASK_CODES
from mike.profiles import get_profile
from suites.section5_suites import scaling_tasks

MEMORY_USE = 0.9  # of the device's memory, when stating the largest N that fits


def section5_sections(doc: Document, data: ReportData, store: RunStore, suites: list[str]) -> None:
    if "bottleneck" in suites:
        _bottleneck(doc, data, store)
    if "decoder" in suites:
        _decoder(doc, data)
    if "scaling" in suites:
        _scaling(doc, data)
    if "sequential" in suites:
        _sequential(doc, data)


def _bottleneck(doc: Document, data: ReportData, store: RunStore) -> None:
    task = get_profile(data.profile).suites.progressive_task
    doc.heading(f"MIKE Section 5: the size of the embedding space ({task} teacher)")
    contrasts = bottleneck_contrasts(data, store, DEFAULT_WINDOW, DEFAULT_MIN_POINTS)
    d = of_study(data.section5_downstream, "bottleneck")
    averages = section5_figures.per_seed_average(d, ["embedding_channels", "schedule"]) if not d.empty else d
    fig = section5_figures.bottleneck_figure(contrasts, averages)
    if fig is not None:
        doc.figure(
            fig,
            "Left: instability D (progressive minus uniform, the measure of Figures 5–6) per embedding "
            "size, each seed a point, mean ± sd. Right: 11-task average normalised IoU of each encoder.",
        )
    sizes = sorted(set(contrasts["channels"]) | set(averages.get("embedding_channels", [])))
    rows = []
    for c in sizes:
        mine = contrasts[contrasts["channels"] == c]
        avg = averages[averages["embedding_channels"] == c] if not averages.empty else averages
        rows.append(
            [
                f"{c}×8×8",
                pm(mine.set_index("seed")["d"]) if not mine.empty else "—",
                *[
                    pm(avg[avg["schedule"] == s].set_index("seed")["value"]) if not avg.empty else "—"
                    for s in ("uniform", "progressive")
                ],
                ids_text(sorted({i for ids in mine["ids"] for i in ids})),
            ]
        )
    doc.table(
        ["embedding", "instability D", "IoU avg, uniform", "IoU avg, progressive", "transfer runs"],
        rows,
        "± sd over seeds. D needs ≥ 10 logged steps in every hand-over segment (`progressive_steps_per_"
        "layer`); a size without them has no D.",
    )
    t = data.section5_transfer
    for c in sizes:
        rows_c = t[(t["embedding_channels"] == c) & (t["decoder_variant"] == "mirror")] if not t.empty else t
        fig, ids = figures.figures56(replace(data, transfer=rows_c), store, task)
        if fig is not None:
            doc.figure(
                fig, f"Per-layer transfer loss with a {c}×8×8 embedding (lowest seed); runs {ids_text(ids)}."
            )


def _decoder(doc: Document, data: ReportData) -> None:
    task = get_profile(data.profile).suites.progressive_task
    doc.heading(f"MIKE Section 5: the decoder's capacity ({task} teacher, all-layers uniform)")
    d = of_study(data.section5_downstream, "decoder")
    if d.empty:
        doc.text("No decoder-study downstream runs.")
        return
    averages = section5_figures.per_seed_average(d, ["decoder_variant", "decoder"])
    mirror = get_profile(data.profile).autoencoder_widths
    order = sorted(set(d["decoder_variant"]), key=lambda v: capacity(v, mirror))
    fig = section5_figures.decoder_figure(averages, order)
    if fig is not None:
        doc.figure(
            fig,
            "Every variant's encoder is read by the same downstream network, a fresh mirror of the encoder "
            "(blue); green: the transferred decoder itself, retrained. Mean ± sd over seeds.",
        )
    rows = []
    for v in order:
        a = averages[averages["decoder_variant"] == v]
        fresh = a[a["decoder"] == "fresh"].set_index("seed")["value"]
        tuned = a[a["decoder"] == "finetune"].set_index("seed")["value"]
        factor, blocks = capacity(v, mirror)
        rows.append(
            [
                v,
                f"{factor:.2g}× widths, +{blocks} blocks",
                pm(fresh),
                pm(tuned),
                pm((tuned - fresh).dropna()),
                ids_text(sorted(set(d.loc[d["decoder_variant"] == v, "encoder_run"]))),
            ]
        )
    doc.table(
        ["decoder", "capacity", "fresh mirror", "transferred, retrained", "gap", "encoder runs"],
        rows,
        "11-task average normalised IoU, ± sd over seeds.",
    )


def largest_fitting(cost: pd.DataFrame) -> tuple[StepMemoryModel | None, str]:
    """The step-memory model fitted to the step costs, and the largest N whose step fits in MEMORY_USE of
    the device's memory, with replicas spread over the 11 tasks."""
    model = fit_step_memory(cost)
    if model is None:
        return None, "needs step costs at three or more N"
    total = float(cost["machine_memory_bytes"].max())
    n_max = model.largest_fitting(MEMORY_USE * total, len(TASK_CODES))
    terms = (
        f"{model.fixed / 2**20:.0f} MiB fixed + {model.per_teacher_per_sample / 2**20:.1f} MiB per teacher "
        f"a sample runs through + {model.per_teacher / 2**20:.2f} MiB per teacher"
    )
    if n_max is None:
        return model, f"memory does not grow with N here ({terms})"
    devices = ", ".join(sorted(set(cost["device"].dropna())))
    return model, (
        f"{terms}: about {n_max:,} teachers ({n_max / len(TASK_CODES):,.0f} per task) fit in "
        f"{MEMORY_USE:.0%} of this device's {total / 2**30:.0f} GiB ({devices})"
    )


def _scaling(doc: Document, data: ReportData) -> None:
    doc.heading("MIKE Section 5: transfer from N teachers at once (routed)")
    cost = data.transfer_cost
    profile = get_profile(data.profile)
    d = data.section5_downstream
    parts = []
    for n in sorted(set(cost["teachers"].dropna().astype(int))) if not cost.empty else []:
        tasks = [t for t, _ in scaling_tasks(profile, n)]
        mine = _uniform_mirror_downstream(d, tasks, profile.transfer.steps)
        mine = mine[mine["study"].isna() | (mine["study"] == "scaling")] if not mine.empty else mine
        if not mine.empty:
            parts.append(mine.assign(n_teachers=n))
    downstream = pd.concat(parts) if parts else pd.DataFrame()
    averages = section5_figures.per_seed_average(downstream, ["n_teachers"]) if parts else pd.DataFrame()
    fit, fits_text = largest_fitting(cost)
    fig = section5_figures.scaling_figure(cost, averages, fit)
    if fig is not None:
        doc.figure(
            fig,
            "Time and memory of one transfer step (batch of the profile) and downstream quality "
            "against the number of teachers; beyond 11, replicas of the 11 tasks trained with other seeds.",
        )
    loud = cost[cost["runs_at_once"].fillna(0) != 1] if not cost.empty else cost
    rows = []
    for n, g in cost.groupby("teachers") if not cost.empty else []:
        avg = averages[averages["n_teachers"] == n] if not averages.empty else averages
        rows.append(
            [
                int(n),
                pm(g.set_index("seed")["seconds_per_step"]),
                f"{g['step_memory_bytes'].mean() / 2**20:,.0f}",
                f"{g['saved_for_backward_bytes'].mean() / 2**20:,.0f}",
                pm(avg.set_index("seed")["value"]) if not avg.empty else "—",
                ids_text(g["run_id"].tolist()),
            ]
        )
    doc.table(
        ["N", "s per step", "step MiB", "of which saved tensors", "IoU avg (11 tasks)", "step-cost runs"],
        rows,
        f"Where this implementation stops: {fits_text}. Step memory: parameters, gradients and Adam state "
        "of the autoencoder, the frozen teachers, and the tensors autograd saves in one step."
        + (
            f" {len(loud)} step-cost runs shared the machine with other runs: their times are not comparable."
            if len(loud)
            else " Every step cost was measured alone on the machine."
        ),
    )


def _sequential(doc: Document, data: ReportData) -> None:
    profile = get_profile(data.profile)
    sequence = studied_sequence(data)
    doc.heading(f"MIKE Section 5: sequential transfer, {' → '.join(sequence)}")
    rows = forgetting_matrices(data)
    columns = sequence + [t for t in TASK_CODES if t not in sequence]
    matrices = {}
    for variant, g in sorted(rows.groupby("variant"), key=lambda vg: vg[0] != "naive"):
        m = g.groupby(["step", "task"])["value"].mean().unstack("task").reindex(columns=columns)
        m.index = [f"{k + 1}: {sequence[k]}" for k in m.index]
        matrices[variant] = m
    fig = section5_figures.forgetting_figure(matrices)
    if fig is not None:
        doc.figure(
            fig,
            "Forgetting matrices: downstream normalised IoU on every task after each step of the "
            "sequence, mean over seeds (the sequence's tasks first).",
        )
    seq = data.sequential
    seq = seq[seq["sequence"].map(lambda tasks: list(tasks) == sequence)] if not seq.empty else seq
    table = []
    for variant, g in sorted(rows.groupby("variant"), key=lambda vg: vg[0] != "naive"):
        final = g[g["step"] == len(sequence) - 1]
        per_seed = final.groupby("seed")["value"].mean()
        steps = seq[seq["ewc_lambda"].fillna(0).map(variant_name) == variant] if not seq.empty else seq
        memory = (
            steps["autoencoder_bytes"].fillna(0)
            + steps["teacher_bytes"].fillna(0)
            + steps["ewc_bytes"].fillna(0)
        )
        table.append(
            [
                variant,
                pm(per_seed),
                pm(forgetting(g, sequence).dropna()),
                f"{steps['seconds_per_step'].mean():.3f}" if not steps.empty else "—",
                f"{memory.max() / 2**20:.2f}" if not steps.empty else "—",
            ]
        )
    for batches, name in (
        (profile.transfer.steps, "joint (all at once)"),
        (len(sequence) * profile.transfer.steps, "joint, as many batches as the sequence"),
    ):
        joint = _uniform_mirror_downstream(data.section5_downstream, sequence, batches)
        if not joint.empty:
            row = [f"{name}, {batches} batches", pm(joint.groupby("seed")["value"].mean()), "—", "—", "—"]
            table.append(row)
    doc.table(
        [
            "transfer",
            "final IoU avg (11 tasks)",
            "average forgetting",
            "s per step",
            "MiB held (model, teacher, EWC)",
        ],
        table,
        f"± sd over seeds. Each step trains {profile.transfer.steps} batches on its teacher; EWC's Fisher "
        f"from {profile.section5.fisher_samples} query images per teacher. The joint transfer holds every "
        "teacher at once; the second joint is as long as the whole sequence, for a comparison at equal "
        "batches." + _shared_machine(seq),
    )


def _uniform_mirror_downstream(d: pd.DataFrame, tasks: list[str], steps: int) -> pd.DataFrame:
    """Fresh-decoder downstream runs of the MIKE transfer (uniform, paper topology) from these teachers,
    trained this many steps: the sequential study's joint references and the scaling study's encoders."""
    if d.empty:
        return d
    return d[
        (d["kind"] == "MIKE")
        & (d["encoder_tasks"] == "+".join(tasks))
        & (d["schedule"] == "uniform")
        & (d["embedding_channels"] == 2)
        & (d["decoder_variant"] == "mirror")
        & (d["encoder_steps"] == steps)
        & (d["decoder"] == "fresh")
    ]


def _shared_machine(steps: pd.DataFrame) -> str:
    """A caption's warning when step times were taken beside other runs (a pool of workers)."""
    shared = steps[steps["runs_at_once"].fillna(1) > 1] if not steps.empty else steps
    if shared.empty:
        return ""
    return (
        f" {len(shared)} of {len(steps)} steps shared the machine with other runs (up to "
        f"{int(shared['runs_at_once'].max())} at once): their seconds per step are indicative only."
    )
