"""Where Figure 3's seed-to-seed spread comes from: the downstream decoder, or the encoder's training.

A seed of the `single` suite trains a MIKE encoder and a pixel-wise one, then one downstream decoder per
task for each, with the same seed. Figure 3 compares them per (encoder, task) over seeds, and its spread
limits what the rules can decide (README: power analysis). This pilot retrains the downstream decoders of
stored encoders with other decoder seeds (the stage's own code, `benchmark.stages.downstream_stage`; nothing
is written to the store), so the part of the spread that comes from the decoder alone is measured:

    uv run python bench/downstream_noise.py --workdir /tmp/cpu1/.mike-bench --profile cpu \
        --teachers PHB CTB --decoder-seeds 0 1 2 3 4

It prints, per comparison (MIKE − pixel-wise, normalised IoU, paired by decoder seed): the decoder-only
variance (over decoder seeds, encoders fixed) and the seed-level variance the store holds (over encoder
seeds, each with its own decoder seed), and from their ratio the spread that averaging k decoders per
encoder would leave, and the seeds one comparison would need then at the smallest effect that matters (80%
power, one-sided α = 0.05; the intersection-union rule tests each of the 121 at α).
Decoder seed s reproduces the stored run of encoder seed s, which is checked.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from types import SimpleNamespace

from benchmark.stages import Workspace, downstream_stage
from benchmark.store import DB_NAME, RunStore, connect, embedded_server

ALPHA, POWER = 0.05, 0.8


def stored_downstream(store: RunStore, profile: str, label: str) -> list[dict]:
    """The COMPLETED downstream runs of the encoder with this label (e.g. 'MIKE PHB uniform seed 0')."""
    query = {"status": "COMPLETED", "config.stage": "downstream", "config.profile": profile}
    query["config.encoder_label"] = label
    query["config.decoder"] = "fresh"
    query["config.study"] = {"$exists": False}
    return list(store.db.runs.find(query))


def retrained(ws: Workspace, run: dict, decoder_seed: int) -> float:
    """The stage's normalised IoU for the stored run's encoder and task, with another decoder seed."""
    config = {**run["config"], "seed": decoder_seed}
    encoder, teacher = ws.store.completed(config["encoder"]), ws.store.completed(config["teacher"])
    return downstream_stage(ws, config, SimpleNamespace(log=None), [encoder, teacher])["normalised_iou"]


def seeds_needed(sd: float, effect: float, tests: int = 1) -> str:
    """Seeds for a one-sided t test at α (or α/tests) to reach 80% power at `effect`."""
    from scipy import stats

    alpha = ALPHA / tests
    for n in range(3, 400):
        t_alpha, t_power = stats.t.ppf(1 - alpha, n - 1), stats.t.ppf(POWER, n - 1)
        if (t_alpha + t_power) * sd / n**0.5 <= effect:
            return str(n)
    return "> 400"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=".mike-bench")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--teachers", nargs="+", default=["PHB"], help="single-teacher encoders to use")
    parser.add_argument("--encoder-seed", type=int, default=0)
    parser.add_argument("--decoder-seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--smallest-effect", type=float, default=0.01, help="Figure 3's, in claims.toml")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    workdir = Path(args.workdir)
    with embedded_server(workdir / "db") as url:
        store = RunStore(connect(url), url)
        assert store.db.name == DB_NAME
        ws = Workspace(store, workdir / "cache", "cpu")
        decoder_var, seed_var = [], []
        print(
            f"{'comparison':12} {'decoder-only sd':>15} {'seed-level sd':>13}   "
            "per decoder seed (MIKE − pixel-wise)"
        )
        for teacher in args.teachers:
            mike = {
                r["config"]["task"]: r
                for r in stored_downstream(store, args.profile, _label("MIKE", teacher, args.encoder_seed))
            }
            pixel = {
                r["config"]["task"]: r
                for r in stored_downstream(store, args.profile, _label("pixel", teacher, args.encoder_seed))
            }
            for task in sorted(mike.keys() & pixel.keys()):
                diffs = []
                for d in args.decoder_seeds:
                    m, p = retrained(ws, mike[task], d), retrained(ws, pixel[task], d)
                    if d == args.encoder_seed:  # the stored run, recomputed: float rounding at most
                        stored = (
                            mike[task]["result"]["normalised_iou"] - pixel[task]["result"]["normalised_iou"]
                        )
                        assert abs((m - p) - stored) < 2e-3, (task, m - p, stored)
                    diffs.append(m - p)
                ws.forget_embeddings()
                over_seeds = _stored_over_seeds(store, args.profile, teacher, task)
                decoder_var.append(statistics.variance(diffs))
                if len(over_seeds) >= 2:
                    seed_var.append(statistics.variance(over_seeds))
                spread = statistics.stdev(over_seeds) if len(over_seeds) >= 2 else float("nan")
                print(
                    f"{teacher}→{task:7} {statistics.stdev(diffs):15.4f} {spread:13.4f}   "
                    + " ".join(f"{v:+.3f}" for v in diffs)
                )
        dec, tot = statistics.mean(decoder_var), statistics.mean(seed_var)
        enc = max(tot - dec, 0.0)
        print(
            f"\nmean variance over {len(decoder_var)} comparisons: "
            f"decoder-only {dec:.5f} (sd {dec**0.5:.4f}); "
            f"seed-level {tot:.5f} (sd {tot**0.5:.4f}, {len(seed_var)} comparisons with ≥ 2 stored seeds): "
            f"the decoder is {dec / tot:.0%} of it"
        )
        print(
            "decoders averaged per encoder k: the seed-level sd left, "
            "and seeds for 80% power at the smallest effect"
        )
        for k in (1, 2, 4, 8):
            sd = (enc + dec / k) ** 0.5
            print(f"  k = {k}: sd {sd:.4f}; seeds per comparison: {seeds_needed(sd, args.smallest_effect)}")


def _label(kind: str, teacher: str, seed: int) -> str:
    return f"MIKE {teacher} uniform seed {seed}" if kind == "MIKE" else f"pixel-wise {teacher} seed {seed}"


def _stored_over_seeds(store: RunStore, profile: str, teacher: str, task: str) -> list[float]:
    """MIKE − pixel-wise per stored seed (decoder seed = encoder seed), as the Figure 3 rules see them."""
    out = []
    for seed in range(100):
        m = stored_downstream(store, profile, _label("MIKE", teacher, seed))
        if not m:
            break
        p = stored_downstream(store, profile, _label("pixel", teacher, seed))
        mm = {r["config"]["task"]: r["result"]["normalised_iou"] for r in m}
        pp = {r["config"]["task"]: r["result"]["normalised_iou"] for r in p}
        if task in mm and task in pp:
            out.append(mm[task] - pp[task])
    return out


if __name__ == "__main__":
    main()
