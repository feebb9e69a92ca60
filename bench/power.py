"""Power analysis from pilot runs: for each claim, the seed-level spread the pilot measured, the effect it
must detect, and the seeds that detect it with 80% power — what a profile's sizes are chosen from.

    uv run python bench/power.py --workdir /tmp/pilot/.mike-bench --profile small
    uv run python bench/power.py --mongo-url mongodb://host/ --profile cpu

The claims are judged exactly as the report judges them (benchmark/report/claims), on the profile's first
setting of each family; per claim it prints the verdict, the seeds it rests on, the largest seed-level
standard deviation among its comparisons, the minimum detectable effect at those seeds, and the seeds for
80% power at the smallest effect that matters (else at the effect observed), and the preconditions.
Nothing is written to the store.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from benchmark.report.build import MIKE_SUITES, suites_present
from benchmark.report.claims import evaluate, load_claims, load_preconditions
from benchmark.report.claims.preconditions import family_checks
from benchmark.report.data import load, split_by_setting
from benchmark.store import RunStore, connect, embedded_server


@contextlib.contextmanager
def opened(args):
    if args.mongo_url:
        yield RunStore(connect(args.mongo_url), args.mongo_url)
        return
    with embedded_server(Path(args.workdir) / "db") as url:
        yield RunStore(connect(url), url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", default=".mike-bench")
    parser.add_argument("--mongo-url")
    parser.add_argument("--profile", default="small")
    args = parser.parse_args()
    claims, params = load_claims(), load_preconditions()
    with opened(args) as store:
        data = load(store, args.profile)
        for family, suites in (("MIKE", MIKE_SUITES), ("feature prediction", {"losses"})):
            settings = split_by_setting(data, family)
            for setting, part in settings:
                here = suites & set(suites_present(part))
                print(f"\n## {setting.label}: {setting.summary()}")
                for check in family_checks(family, part, params):
                    print(f"precondition {check.name}: {check.status} — {check.detail}")
                print(
                    f"{'claim':34} {'verdict':13} {'seeds':>5} {'max sd':>9}  {'MDE':22} seeds for 80% power"
                )
                for v in evaluate(claims, part, store, here, setting.label, params):
                    print(
                        f"{v.claim['id']:34} {v.verdict:13} {v.n_seeds if v.n_seeds is not None else '—':>5} "
                        f"{v.spread:9.4g}  {v.mde:22} {v.seeds_needed}"
                    )


if __name__ == "__main__":
    main()
