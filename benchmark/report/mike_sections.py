"""The MIKE paper's sections of a report (Figures 3–6), for the runs of one setting."""

from __future__ import annotations

from benchmark.report import figures
from benchmark.report.claims import three_column
from benchmark.report.data import ReportData, single_teacher
from benchmark.report.document import Document
from benchmark.report.format import ids_text, pm
from benchmark.store import RunStore
from mike.profiles import get_profile


def mike_sections(doc: Document, data: ReportData, store: RunStore, suites: list[str], suffix: str) -> None:
    d = data.downstream
    if "single" in suites and not single_teacher(d).empty:
        doc.heading(f"MIKE, Figure 3: single-teacher encoders vs the pixel-wise baseline{suffix}")
        fig = figures.figure3(data)
        if fig is not None:
            doc.figure(
                fig,
                "Figure 3 reproduction: normalised IoU per downstream task, mean over seeds (band: ± sd); "
                "the first task at the top, the others clockwise, as the paper.",
            )
        rows = []
        for enc, g in single_teacher(d).groupby("encoder_tasks"):
            mike, base = g[g["kind"] == "MIKE"], g[g["kind"] == "pixel-wise"]
            ahead = mike.groupby("task")["value"].mean().sub(base.groupby("task")["value"].mean())
            rows.append(
                [
                    enc,
                    pm(mike.groupby("seed")["value"].mean()),
                    pm(base.groupby("seed")["value"].mean()),
                    f"{int((ahead > 0).sum())}/{mike['task'].nunique()}",
                    ids_text(sorted(set(g["encoder_run"]))),
                ]
            )
        doc.table(
            ["teacher", "MIKE avg", "baseline avg", "MIKE ahead on", "encoder runs"],
            rows,
            "Averages over the 11 tasks (± sd over seeds). Downstream run ids: Provenance.",
        )
    if ("three" in suites or "eleven" in suites) and not d.empty:
        doc.heading(f"MIKE, Figure 4: one, three and eleven teachers{suffix}")
        fig = figures.figure4(data, three_column(data))
        if fig is not None:
            doc.figure(
                fig,
                "Figure 4 reproduction: MIKE encoders from the CTB teacher, three teachers and all eleven.",
            )
        mike = d[(d["kind"] == "MIKE") & (d["schedule"] == "uniform")]
        rows = [
            [enc, pm(g.groupby("seed")["value"].mean()), ids_text(sorted(set(g["encoder_run"])))]
            for enc, g in mike.groupby("encoder_tasks")
            if enc.count("+") in (0, 2, 10)
        ]
        doc.table(["MIKE encoder (teachers)", "avg normalised IoU", "encoder runs"], rows)
    t = data.transfer
    if "progressive" in suites and not t.empty and (t["schedule"] == "progressive").any():
        task = get_profile(data.profile).suites.progressive_task
        doc.heading(f"MIKE, Figures 5–6: per-layer loss, uniform vs last-layer progressive ({task}){suffix}")
        fig, ids = figures.figures56(data, store, task)
        if fig is not None:
            doc.figure(
                fig,
                f"Per-layer transfer loss against batch (lowest seed), linear axis as the paper, log-scale "
                f"inset; runs {ids_text(ids)}.",
            )
