"""sim.policy: a bad spec refused, the search on a known front, resuming, end to end."""

import json

import numpy as np
import pandas as pd
import pytest

from sim.policy import (
    archive_table,
    convergence,
    format_optimize,
    read_generations,
    run_optimize,
    search,
)
from sim.policy_spec import PolicySpecError, load_policy_spec
from sim.store import StoreError

SPEC = """
description = "test policy search"
scenario = "hague-2035"
seed = 11

[search]
algorithm = "eps-nsga2"
nfe = 24
population = 12
replications = 2

[levers]
us_pressure_strength = { range = [0.0, 1.0] }
retrenchment_threshold = { range = [0.2, 1.0] }

[uncertainties]
threat_scale = { range = [0.6, 1.6] }
adjustment_speed = { range = [0.1, 0.8] }

[[objectives]]
name = "allies"
column = "allies_ge_3_5pct_core"
direction = "max"
epsilon = 0.5
threshold = 10

[[objectives]]
name = "retrenchment_years"
column = "us_retrenchment"
measure = "years_above"
above = 0.0
direction = "min"
epsilon = 1.0
threshold = 2

[robustness]
futures = 10
replications = 1
"""


def write_spec(folder, text=SPEC, name="search.toml"):
    path = folder / name
    path.write_text(text)
    return path


# --- the spec ------------------------------------------------------------------------------------
def test_run_optimize_refuses_a_bad_spec_before_writing_anything(tmp_path):
    path = write_spec(tmp_path, SPEC.replace('"allies_ge_3_5pct_core"', '"bogus_column"'))
    with pytest.raises(PolicySpecError, match=r"objectives\[0\]\.column: unknown output column"):
        run_optimize(path, tmp_path / "out", executor="serial", progress=False)
    assert not (tmp_path / "out").exists()


# --- the search on a problem with a known Pareto front -------------------------------------------
ANALYTIC = """
description = "ZDT1 in two variables: the levers stand for x1 and x2"
scenario = "hague-2035"
seed = 3

[search]
algorithm = "{algorithm}"
nfe = {nfe}
population = 40
replications = 1

[levers]
us_pressure_strength = {{ range = [0.0, 1.0] }}
us_pressure_start = {{ range = [0.0, 1.0] }}

[uncertainties]
threat_scale = {{ range = [0.6, 1.6] }}

[[objectives]]
name = "f1"
column = "capability_gap"
direction = "max"
epsilon = 0.01
threshold = 0.5

[[objectives]]
name = "f2"
column = "capability_gap"
direction = "min"
epsilon = 0.01

[robustness]
futures = 10
"""


def zdt1(rows):
    """ZDT1 (Zitzler, Deb & Thiele 2000) with x = (x1, x2): F1 = 1 - x1 (to maximise) and
    f2 = g (1 - sqrt(x1 / g)) with g = 1 + 9 x2 (to minimise). Front: x2 = 0, f2 = 1 - sqrt(1 - F1).
    """
    x = np.asarray(rows, dtype=float)
    g = 1 + 9 * x[:, 1]
    return np.column_stack([1 - x[:, 0], g * (1 - np.sqrt(x[:, 0] / g))])


def never_stop():
    return None


@pytest.mark.parametrize("algorithm", ["eps-nsga2", "nsga2"])
def test_the_search_finds_a_known_pareto_front(tmp_path, algorithm):
    text = ANALYTIC.format(algorithm=algorithm, nfe=2000)
    spec = load_policy_spec(write_spec(tmp_path, text))
    last = search(spec, tmp_path / "search", zdt1, progress=False, check_stop=never_stop)
    front = archive_table(spec, last["archive"])
    assert last["nfe"] >= 2000
    distance = front["f2"] - (1 - np.sqrt(1 - front["f1"]))
    assert distance.abs().max() < 0.02  # on the front (f2 >= its front value by construction)
    assert front["f1"].min() < 0.05 and front["f1"].max() > 0.95  # along all of it
    assert np.diff(np.sort(front["f1"].to_numpy())).max() < 0.1  # with no large hole
    history = convergence(spec, read_generations(tmp_path / "search"))
    assert history["epsilon_progress"].is_monotonic_increasing
    assert history["hypervolume"].dropna().iloc[-1] > history["hypervolume"].dropna().iloc[0]


def test_an_interrupted_search_resumes_to_the_numbers_of_an_uninterrupted_one(tmp_path):
    spec = load_policy_spec(write_spec(tmp_path, ANALYTIC.format(algorithm="eps-nsga2", nfe=600)))
    whole = search(spec, tmp_path / "a", zdt1, progress=False, check_stop=never_stop)
    calls = []

    def stop_after_five():
        calls.append(1)
        if len(calls) > 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search(spec, tmp_path / "b", zdt1, progress=False, check_stop=stop_after_five)
    assert len(read_generations(tmp_path / "b")) == 5
    state = __import__("random").getstate()
    resumed = search(spec, tmp_path / "b", zdt1, progress=False, check_stop=never_stop)
    assert resumed == whole
    assert __import__("random").getstate() == state  # the caller's generator is left alone
    pairs = zip(sorted((tmp_path / "a").iterdir()), sorted((tmp_path / "b").iterdir()), strict=True)
    for a, b in pairs:
        assert json.loads(a.read_text()) == json.loads(b.read_text())


MIXED = ANALYTIC.replace(
    "us_pressure_start = {{ range = [0.0, 1.0] }}", "review_delay = {{ range = [-3, 6] }}"
)


def integer_target(rows):
    """Two objectives of a real x and a whole-number n in [-3, 6]: max 1 - x, min x + |n - 2|.

    Its front is n = 2 with x along [0, 1].
    """
    x = np.asarray(rows, dtype=float)
    return np.column_stack([1 - x[:, 0], x[:, 0] + np.abs(x[:, 1] - 2)])


def test_a_whole_number_lever_is_searched_in_whole_numbers_and_resumes_exactly(tmp_path):
    spec = load_policy_spec(write_spec(tmp_path, MIXED.format(algorithm="eps-nsga2", nfe=800)))
    assert [v.integer for v in spec.levers] == [False, True]
    seen = []

    def evaluate(rows):
        seen.extend(row[1] for row in rows)
        return integer_target(rows)

    whole = search(spec, tmp_path / "a", evaluate, progress=False, check_stop=never_stop)
    assert all(isinstance(n, int) and -3 <= n <= 6 for n in seen)
    assert len(set(seen)) == 10  # every whole number of the range was tried
    front = archive_table(spec, whole["archive"])
    assert front["review_delay"].dtype == "int64" and (front["review_delay"] == 2).all()
    calls = []

    def stop_after_three():
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search(spec, tmp_path / "b", integer_target, progress=False, check_stop=stop_after_three)
    resumed = search(spec, tmp_path / "b", integer_target, progress=False, check_stop=never_stop)
    assert resumed == whole


# --- end to end -----------------------------------------------------------------------------------
def test_run_optimize_writes_the_report_and_resumes_or_refuses(tmp_path):
    path = write_spec(tmp_path)
    out = tmp_path / "out"
    result = run_optimize(path, out, executor="serial", progress=False)
    for name in ("report.md", "designs.csv", "robustness.csv", "convergence.csv", "parcoords.png"):
        assert (out / name).is_file()
    assert len(result.designs) >= 1
    assert len(result.futures) == 10
    assert len(result.outcomes) == 10 * len(result.designs)
    assert result.robustness["satisficing"].between(0, 1).all()
    assert result.convergence["nfe"].iloc[-1] >= 24
    printed = format_optimize(result).splitlines()
    assert printed[0].startswith("search: eps-nsga2, 24 designs evaluated over 2 generations")
    assert printed[-1] == f"Written: {out}/report.md, with its tables and plots"
    report = (out / "report.md").read_text()
    assert "## Findings" in report and "meets every threshold in" in report
    with pytest.raises(StoreError, match="holds this policy-search already"):
        run_optimize(path, out, executor="serial", progress=False)
    other = write_spec(tmp_path, SPEC.replace("seed = 11", "seed = 12"))
    with pytest.raises(StoreError, match="made by a different policy-search spec"):
        run_optimize(other, out, executor="serial", progress=False, resume=True)
    stricter = write_spec(tmp_path, SPEC.replace("threshold = 10", "threshold = 40"))
    analysed = run_optimize(stricter, out, executor="serial", progress=False, resume=True)
    pd.testing.assert_frame_equal(analysed.outcomes, result.outcomes)  # re-analysed, not re-run
    assert (analysed.robustness["satisficing"] == 0).all()
    assert "It fails in every future." in (out / "report.md").read_text()


def test_run_optimize_searches_the_new_policy_levers(tmp_path):
    """Whole-number levers (review delay, retrenchment start year) with real ones, end to end."""
    text = SPEC.replace(
        "retrenchment_threshold = { range = [0.2, 1.0] }",
        "review_delay = { range = [-2, 4] }\n"
        "retrenchment_start_year = { range = [2026, 2035] }\n"
        "us_pressure_capability_weight = { range = [0.0, 1.0] }\n"
        "us_demand_scale = { range = [0.6, 1.4] }",
    )
    result = run_optimize(write_spec(tmp_path, text), tmp_path / "out", executor="serial")
    designs = pd.read_csv(tmp_path / "out" / "designs.csv")
    for name, low, high in (("review_delay", -2, 4), ("retrenchment_start_year", 2026, 2035)):
        assert designs[name].dtype == "int64" and designs[name].between(low, high).all()
    assert len(result.outcomes) == 10 * len(result.designs)
    assert result.convergence["hypervolume"].notna().any()


def test_run_optimize_searches_the_pledge_design_levers(tmp_path):
    """The pledge's level and deadline and the US demand's deadline as levers, end to end:
    the spec reads the deadlines as whole-number levers, the designs keep them in range."""
    text = SPEC.replace(
        "retrenchment_threshold = { range = [0.2, 1.0] }",
        "pledge_core_scale = { range = [0.8, 1.4] }\n"
        "pledge_delay = { range = [-3, 5] }\n"
        "us_demand_delay = { range = [-3, 5] }",
    )
    path = write_spec(tmp_path, text)
    spec = load_policy_spec(path)
    kinds = {v.name: (v.integer, v.low, v.high) for v in spec.levers}
    assert kinds["pledge_core_scale"] == (False, 0.8, 1.4)
    assert kinds["pledge_delay"] == kinds["us_demand_delay"] == (True, -3, 5)
    result = run_optimize(path, tmp_path / "out", executor="serial")
    designs = pd.read_csv(tmp_path / "out" / "designs.csv")
    for name in ("pledge_delay", "us_demand_delay"):
        assert designs[name].dtype == "int64" and designs[name].between(-3, 5).all()
    assert designs["pledge_core_scale"].between(0.8, 1.4).all()
    assert len(result.outcomes) == 10 * len(result.designs)
