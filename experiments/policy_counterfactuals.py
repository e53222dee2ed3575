"""Counterfactuals of one policy design from a finished `alliance optimize` folder.

Re-runs the design over the spec's re-evaluation futures and seeds (``simulate_objectives``, as
the robustness step does) with some of its levers changed, and prints for each variant the share
of futures meeting every objective's threshold, the median of the first objective and the failing
futures. The variant "as found" reproduces the folder's ``robustness.csv``.

    python experiments/policy_counterfactuals.py OUT DESIGN [LEVER=VALUE ...]

e.g. ``python experiments/policy_counterfactuals.py results/policy 221
us_pressure_capability_weight=0 review_delay=2 us_demand_scale=1.0 retrenchment_start_year=2026``
(each LEVER=VALUE is one variant).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from sim.parameters import PARAMETERS
from sim.policy_spec import load_policy_spec, simulate_objectives
from sim.robustness import sample_futures

SPEC = Path(__file__).with_name("policy_search.toml")


def _variant(text: str) -> tuple[str, dict[str, float]]:
    name, _, value = text.partition("=")
    if name not in PARAMETERS or not value:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LEVER=VALUE with a known parameter")
    return text, {name: PARAMETERS[name].coerce(float(value))}


def main(argv: list[str] | None = None) -> None:
    """Print each variant's satisficing share, median first objective and failing futures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder written by `alliance optimize`")
    parser.add_argument("design", type=int, help="design number (designs.csv)")
    parser.add_argument("variants", nargs="*", type=_variant, help="LEVER=VALUE, one per variant")
    parser.add_argument("--spec", type=Path, default=SPEC, help="the search's spec")
    args = parser.parse_args(argv)
    spec = load_policy_spec(args.spec)
    designs = pd.read_csv(args.out / "designs.csv").set_index("design")
    found = {n: PARAMETERS[n].coerce(designs.loc[args.design, n]) for n in spec.lever_names}
    futures = sample_futures(spec, None)
    print(f"design {args.design}: {found}")
    for label, change in [("as found", {}), *args.variants]:
        levers = found | change
        params = [
            dict(zip(futures.values.columns, row, strict=True)) | levers
            for row in futures.values.itertuples(index=False)
        ]
        got = simulate_objectives(spec.scenario, params, futures.seeds.tolist(), spec.objectives)
        means = got.mean(axis=1)  # (futures, objectives): the mean over each future's runs
        met = np.ones(len(means), bool)
        for i, objective in enumerate(spec.objectives):
            met &= objective.meets(means[:, i])
        print(
            f"{label}: satisficing {met.mean():.3f}; median {spec.objectives[0].name} "
            f"{np.median(means[:, 0]):.2f}; failing futures {int((~met).sum())}"
        )


if __name__ == "__main__":
    main()
