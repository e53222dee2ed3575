"""Benchmark of the browser app's server-side work: the uncertainty panel and a frame per view.

It times, in this process and without a browser:

1. the uncertainty panel, ``sim.dashboard.uncertainty_bands`` (the ensemble engine and the
   quantiles), for N = 200 and N = 1,000 replications of ``us-retrenchment`` with seed 1;
2. one frame of each chart, as the app draws it after a step (figure built and encoded to PNG),
   in 2030 of the same scenario, and the ally table.

Each timing is repeated ``--repeat`` times after one untimed warm-up; the report gives the
median and the minimum in seconds. Run it from the repository root::

    source .venv/bin/activate
    python experiments/bench_app.py
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # app.py lives at the root

import app
from sim.dashboard import ally_table, uncertainty_bands

SCENARIO = "us-retrenchment"


def _time(fn, repeat: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def _frame(build):
    def draw():
        build().savefig(io.BytesIO(), format="png", dpi=90)

    return draw


def main() -> None:
    """Print the benchmark as a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed repetitions (default 10)")
    args = parser.parse_args()

    model = app.AppModel(SCENARIO, rng=1)
    model.run_for(5)
    bands = uncertainty_bands(model.spec, model.seed, 200)
    cases = {
        "Uncertainty panel, N = 200": lambda: uncertainty_bands(model.spec, 1, 200),
        "Uncertainty panel, N = 1,000": lambda: uncertainty_bands(model.spec, 1, 1000),
        "Alliance aggregates chart": _frame(lambda: app.aggregates_figure(model)),
        "Ally trajectories chart": _frame(lambda: app.trajectories_figure(model, "Germany")),
        "Capability heatmap": _frame(lambda: app.heatmap_figure(model)),
        "Ally table": lambda: ally_table(model),
        "Uncertainty chart": _frame(lambda: app.bands_figure(model, bands)),
    }
    print(f"{SCENARIO}, seed 1, frames in {model.year}; {args.repeat} repetitions\n")
    print("| Measurement | Median s | Min s |\n|---|---:|---:|")
    for name, fn in cases.items():
        median, best = _time(fn, args.repeat)
        print(f"| {name} | {median:.3f} | {best:.3f} |")


if __name__ == "__main__":
    main()
