"""`mike-bench report`: every section from a smoke store, verdicts from hand-made runs, headless Chromium,
and one-line messages when there is nothing to report."""

import base64
import csv
import io
import re
import shutil
import subprocess

import numpy as np
import pymongo
import pytest
import torch
from PIL import Image
from secantus import SecantusDBServer

from benchmark.report.build import build
from benchmark.report.claims import evaluate, load_claims
from benchmark.report.data import load
from benchmark.store import DB_NAME, RunStore, connect
from mike.data.tasks import TASK_CODES
from suites.registry import PAPER_SUITES
from tests.helpers import mike_bench

SECTIONS = [
    "Verdicts",
    "MIKE, Figure 3",
    "MIKE, Figure 4",
    "MIKE, Figures 5–6",
    "Feature prediction, Figures 6–8",
    "Feature prediction, Table II",
    "Claims: what each paper states",
    "Deviations from the papers",
    "Provenance",
]


@pytest.fixture(scope="module")
def smoke_report(all_suites_store, tmp_path_factory):
    db, uri, _, root = all_suites_store
    out_dir = tmp_path_factory.mktemp("reports")
    out = mike_bench("report", "--mongo-url", uri, "--out", str(out_dir), cwd=root)
    assert out.returncode == 0, out.stderr[-3000:]
    return out_dir / "latest", db, out


def test_smoke_report_has_every_section_and_is_labelled(smoke_report):
    folder, db, out = smoke_report
    assert folder.is_symlink() and re.fullmatch(r"\d{4}-\d\d-\d\d-smoke", folder.resolve().name)
    html = (folder / "report.html").read_text()
    md = (folder / "report.md").read_text()
    for section in SECTIONS:
        assert section in html and section in md, section
    assert "NOT a reproduction" in html and "NOT a reproduction" in md
    for claim in load_claims():  # every claim of the suites `all` runs (Section 5's: tests/test_section5.py)
        assert claim["statement"] in md or claim["suite"] not in PAPER_SUITES
    assert "substitute loss network" in md.lower()  # the substitution is marked
    assert "Figure 9 reproduction" in md  # the SVHN convergence runs, from their per-epoch val_loss
    assert re.search(r"\| simple CNN \| [0-9.]+ .*\| [0-9.]+ ", md)  # Table II's CNN row: LunarLander, SVHN
    assert "inconclusive (n seeds = 1 < 3)" in md  # one smoke seed proves nothing
    assert "Synthetic COCO-format data" in md
    # Methods says how every kind of verdict is reached: tests, equivalence, counts, intervals, floors.
    methods = md.split("Methods", 1)[1]
    for how in ("intersection-union", "TOST", "count rules", "90% two-sided t interval", "minimum seeds (3)"):
        assert how in methods, how
    # Markdown figures are files beside it; HTML figures are inline (opens offline).
    figures = re.findall(r"\]\((figures/[^)]+\.png)\)", md)
    assert len(figures) >= 5 and all((folder / f).is_file() for f in figures)
    assert "src='http" not in html and 'src="http' not in html
    for data in re.findall(r"src='data:image/png;base64,([^']+)'", html):
        Image.open(io.BytesIO(base64.b64decode(data))).verify()
    # Provenance: every COMPLETED run of the store is listed with its config hash and commit.
    rows = list(csv.DictReader(open(folder / "runs.csv")))
    assert {r["run_id"] for r in rows} == {str(i) for i in db.runs.distinct("_id", {"status": "COMPLETED"})}
    assert all(r["config_hash"] and r["git_commit"] and "CPUs" in r["hardware"] for r in rows)
    assert {r["profile"] for r in rows} == {"smoke"}
    assert "built in" in out.stdout


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("headless Chromium is needed for this test: apt-get install chromium (tox installs it)")


def test_report_renders_in_headless_chromium(smoke_report, tmp_path):
    folder, *_ = smoke_report
    shot = tmp_path / "report.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    out = subprocess.run(
        [
            _chromium(),
            *flags,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,2400",
            (folder / "report.html").resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2400, 1200)
    assert (pixels < 200).mean() > 0.02 and pixels.std() > 20  # text, tables and figures: not blank


def _run(run_id, stage, profile, seed, config, result=None, config_hash=None):
    return {
        "_id": run_id,
        "status": "COMPLETED",
        "config": {"stage": stage, "profile": profile, "seed": seed, **config},
        "meta": {"config_hash": config_hash or f"h{run_id}"},
        "info": {
            "label": f"{stage} {run_id}",
            "git_commit": "abc123",
            "hardware": {"cpus": 2},
            "seconds": 1.0,
        },
        "result": result or {},
    }


def hand_made_runs(profile: str, mike_minus_baseline, start: int) -> list[dict]:
    """11 single-teacher MIKE encoders and baselines, each evaluated on 11 tasks with 3 seeds."""
    docs, k = [], start
    for seed in (0, 1, 2):
        for e, enc in enumerate(TASK_CODES):
            hashes = {}
            for kind in ("transfer", "baseline"):
                k += 1
                hashes[kind] = f"{profile}-{kind}-{enc}-{seed}"
                extra = {"schedule": "uniform"} if kind == "transfer" else {}
                docs.append(_run(k, kind, profile, seed, {"tasks": [enc], **extra}, config_hash=hashes[kind]))
            for t, task in enumerate(TASK_CODES):
                base = 0.5 + 0.01 * ((e * 7 + t * 3 + seed) % 5)
                for kind, value in (("baseline", base), ("transfer", base + mike_minus_baseline(e, t, seed))):
                    k += 1
                    config = {"task": task, "encoder": hashes[kind]}
                    docs.append(_run(k, "downstream", profile, seed, config, {"normalised_iou": value}))
    return docs


@pytest.fixture(scope="module")
def hand_made_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("hand-made")
    with SecantusDBServer(storage_path=str(root / "db"), host="127.0.0.1", port=0) as server:
        db = pymongo.MongoClient(server.uri)[DB_NAME]
        cases = {
            "paper": lambda e, t, s: 0.2 + 0.002 * s,  # MIKE ahead everywhere, every seed: holds
            "small": lambda e, t, s: -0.1,  # MIKE behind everywhere: fails
            "smoke": lambda e, t, s: 0.05 * (-1) ** s,  # ahead on average, not in every seed: inconclusive
        }
        start = 0
        for profile, diff in cases.items():
            docs = hand_made_runs(profile, diff, start)
            db.runs.insert_many(docs)
            start += len(docs)
        # A probe run stored before `constant_metric` existed: the report must still read it.
        probe = {"dataset": "lunar_lander", "procedure": "I-F-FP", "z": 64, "metric": "distance"}
        result = {**probe, "test_metric": 0.3, "epoch_seconds": 2.0, "epoch_cpu_seconds": 3.0}
        db.runs.insert_one(_run(start + 1, "probe", "paper", 0, {}, {**result, "loss_network": "imagenet"}))
        yield RunStore(connect(server.uri), server.uri), server.uri, root


@pytest.mark.parametrize(
    "profile,expected", [("paper", "holds"), ("small", "fails"), ("smoke", "inconclusive")]
)
def test_verdicts_from_hand_made_runs(hand_made_store, profile, expected):
    store, *_ = hand_made_store
    claim = next(c for c in load_claims() if c["id"] == "mike-fig3-every-comparison")
    (verdict,) = evaluate([claim], load(store, profile), store, {"single"})
    assert verdict.verdict == expected, verdict.measured
    wins = {"paper": "121/121", "small": "0/121", "smoke": "121/121"}[profile]
    assert f"MIKE ahead (mean over seeds) in {wins} comparisons" in verdict.measured
    assert verdict.n_seeds == 3 and "Holm over 121" in verdict.method
    assert len(verdict.run_ids) == 2 * 3 * 121  # every downstream run behind it, every seed


def test_a_paper_report_from_runs_missing_a_newer_field(hand_made_store, tmp_path):
    store, *_ = hand_made_store
    folder = build(store, "paper", None, tmp_path)
    md = (folder / "report.md").read_text()
    assert "PAPER PROFILE" in md and "Figure 6" in md and "NOT a reproduction" not in md
    # every verdict says its seeds, its test, its setting and its power; preconditions come before them
    header = "| claim | source | verdict | n seeds | test | MDE (80% power) | seeds for 80% power |"
    assert header in md
    assert md.index("| precondition | status | measured |") < md.index(header)
    assert "### MIKE setting A: " in md and "### feature prediction setting A: " in md
    assert "Seeds: 3; test: one-sided t over 3 seed-level values" in md
    # runs stored before the decoder option trained a fresh decoder: the Deviations say so
    assert "downstream decoder: a fresh decoder" in md
    assert (tmp_path / "latest").resolve() == folder.resolve()


def test_missing_suite_and_empty_store_are_one_line_messages(hand_made_store, tmp_path):
    _, uri, root = hand_made_store
    missing = mike_bench(
        "report", "--suite", "progressive", "--profile", "paper", "--mongo-url", uri, cwd=root
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert (
        missing.stderr.strip()
        .splitlines()[-1]
        .startswith("mike-bench: error: no results for suite 'progressive' (profile paper)")
    )
    empty = mike_bench("report", "--workdir", str(tmp_path / "work"), cwd=tmp_path)
    assert empty.returncode == 2 and "Traceback" not in empty.stderr
    assert "holds no completed runs; run a suite first" in empty.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "reports").exists()


def test_each_run_records_the_cpu_kernels_its_numbers_depend_on():
    """One seed gives bit-equal numbers only on CPUs whose torch kernels share an instruction set."""
    from benchmark.report.build import _hardware
    from benchmark.runs import hardware

    h = hardware()
    assert h["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and h["cpu_capability"]
    assert "2 CPUs (AVX512 kernels), 1 torch threads" in _hardware(
        {**h, "cpus": 2, "cpu_capability": "AVX512", "torch_threads": 1}
    )
    assert "kernels" not in _hardware({"machine": "x86_64", "cpus": 2})  # a run stored before it was recorded
