"""The feature-prediction paper's sections of a report (Figures 6–9, Tables I–II), for one setting."""

from __future__ import annotations

from benchmark.report import fp_figures
from benchmark.report.claims.common import DATASET_NAMES
from benchmark.report.claims.reference import SIMPLE_CNN
from benchmark.report.data import ReportData
from benchmark.report.document import Document
from benchmark.report.format import ids_text, pm
from benchmark.store import RunStore
from mike.featpred.procedure_table import PROCEDURES

DATASETS = ("lunar_lander", "stl10", "svhn")


def losses_sections(
    doc: Document, data: ReportData, store: RunStore, claims: list[dict], suffix: str
) -> None:
    p = data.probes
    doc.heading(f"Feature prediction, Figures 6–8: probe metric vs training time per epoch{suffix}")
    for dataset, number in zip(DATASETS, (6, 7, 8), strict=True):
        fig = fp_figures.fp_figure(data, dataset, number)
        if fig is None:
            doc.text(f"Figure {number} ({DATASET_NAMES[dataset]}): no runs (dataset files not given).")
        else:
            doc.figure(
                fig, f"Figure {number} reproduction: one point per procedure and z; mean ± sd over seeds."
            )
    rows = [
        [
            DATASET_NAMES.get(dataset, dataset),
            procedure,
            z,
            g["metric"].iloc[0],
            pm(g["value"]),
            pm(g["constant"].dropna()) if g["constant"].notna().any() else "—",
            pm(g["epoch_seconds"]),
            pm(g["epoch_cpu_seconds"]),
            g["seed"].nunique(),
            ", ".join(sorted(set(g["loss_network"].dropna()))),
            ids_text(g["run_id"]),
        ]
        for (dataset, procedure, z), g in p.groupby(["dataset", "procedure", "z"])
    ]
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
    _table2(doc, data, claims)
    doc.heading(f"Feature prediction, Figure 9: convergence on SVHN (z = 64, patience 15){suffix}", 3)
    fig = fp_figures.figure9(data, store)
    if fig is None:
        doc.text("Figure 9: no convergence runs (the suite plans them only with --svhn-root).")
    else:
        doc.figure(
            fig, "Figure 9 reproduction: validation loss per epoch, scaled to 1 after the first epoch."
        )
    doc.text("Table I (SVHN, z = 500, probes trained on the extra set) is not run by the suite; see Claims.")


def _table2(doc: Document, data: ReportData, claims: list[dict]) -> None:
    doc.heading("Feature prediction, Table II: mean ± sd over seeds and z", 3)
    claim = next((c for c in claims if c["kind"] == "fp_reference_values"), {"values": []})
    reference = {(v["procedure"], v["dataset"]): v for v in claim["values"]}
    p, cnn = data.probes, data.simple_cnn
    present = set(p["dataset"]) | (set(cnn["dataset"]) if not cnn.empty else set())
    datasets = [ds for ds in DATASETS if ds in present]
    rows = []
    for procedure in (*PROCEDURES, SIMPLE_CNN):
        row = [procedure]
        for ds in datasets:
            frame = cnn if procedure == SIMPLE_CNN else p[p["procedure"] == procedure]
            g = frame[frame["dataset"] == ds] if not frame.empty else frame
            ref = reference.get((procedure, ds))
            paper = f" (paper {ref['mean']} ± {ref['sd']})" if ref else ""
            row.append((pm(g["value"]) if not g.empty else "—") + paper)
        rows.append(row)
    readings = " or ".join(f"{r['name']} (× {r['scale']:g})" for r in claim.get("lunar_readings", []))
    doc.table(
        ["procedure", *[DATASET_NAMES[d] for d in datasets]],
        rows,
        "LunarLander: mean Euclidean distance in normalised coordinates. The paper states no unit for its "
        f"values; they may be {readings}, so they are shown, not judged (see the fp-table2 claim). "
        "Simple CNN: the encoder of Fig. 3 and an MLP with one hidden layer of 256, trained on the "
        "probe-training collection.",
    )
