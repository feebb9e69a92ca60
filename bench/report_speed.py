"""How long `mike-bench report` takes over a large store: thousands of runs with their metrics.

Fills a fresh embedded SecantusDB with synthetic run documents shaped like the suites' (Figure 3's
encoders and downstream runs, and per-layer transfer metrics of 18 layers × steps), then builds the report
and prints the time of the store queries and of the whole build.

    uv run python bench/report_speed.py --seeds 10            # 2,640 runs, 1,980 metric series
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmark.report.build import build
from benchmark.report.data import load
from benchmark.store import RunStore, connect, embedded_server
from mike.data.tasks import TASK_CODES


def _run(k: int, stage: str, seed: int, config: dict, result: dict, config_hash: str | None = None) -> dict:
    return {
        "_id": k,
        "status": "COMPLETED",
        "config": {"stage": stage, "profile": "small", "seed": seed, **config},
        "meta": {"config_hash": config_hash or f"h{k}"},
        "info": {"label": f"{stage} {k}", "git_commit": "bench", "hardware": {"cpus": 2}, "seconds": 1.0},
        "result": result,
    }


def fill(store: RunStore, seeds: int, steps: int) -> tuple[int, int]:
    rng = np.random.default_rng(0)
    runs, metrics, k = [], [], 0
    for seed in range(seeds):
        for enc in TASK_CODES:
            hashes = {}
            for stage in ("transfer", "baseline"):
                k += 1
                hashes[stage] = f"{stage}-{enc}-{seed}"
                extra = {"schedule": "uniform"} if stage == "transfer" else {}
                runs.append(_run(k, stage, seed, {"tasks": [enc], **extra}, {}, hashes[stage]))
                if stage == "transfer":
                    for layer in range(18):
                        values = (np.exp(-np.arange(steps) / 50) + rng.random(steps) * 0.01).tolist()
                        name = f"layer/{enc}/L{layer:02d}"
                        metrics.append(
                            {"run_id": k, "name": name, "steps": list(range(steps)), "values": values}
                        )
            for task in TASK_CODES:
                for stage in ("transfer", "baseline"):
                    k += 1
                    value = float(rng.uniform(0.3, 0.9))
                    config = {"task": task, "encoder": hashes[stage]}
                    runs.append(_run(k, "downstream", seed, config, {"normalised_iou": value}))
    store.db.runs.insert_many(runs)
    store.db.metrics.insert_many(metrics)
    return len(runs), len(metrics)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=300, help="steps per metric series")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, embedded_server(Path(scratch) / "db") as url:
        store = RunStore(connect(url), url)
        n_runs, n_metrics = fill(store, args.seeds, args.steps)
        started = time.perf_counter()
        load(store, "small")
        queried = time.perf_counter() - started
        started = time.perf_counter()
        folder = build(store, "small", None, Path(scratch) / "reports")
        total = time.perf_counter() - started
        print(f"{n_runs} runs, {n_metrics} metric series of {args.steps} steps")
        print(f"store queries {queried:.2f}s; whole report (queries, verdicts, figures, files) {total:.2f}s")
        size = (folder / "report.html").stat().st_size / 1e6
        print(f"wrote {folder.name}/report.html ({size:.1f} MB)")


if __name__ == "__main__":
    main()
