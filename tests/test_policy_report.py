"""sim.policy_report: findings, tables and plots of a policy search, from a hand-made result."""

import numpy as np
import pandas as pd
import pytest

from sim.discovery import DiscoveryResult
from sim.policy import OptimizeResult
from sim.policy_report import (
    _table,
    findings,
    lever_text,
    plot_convergence,
    plot_parcoords,
    write_report,
)
from sim.policy_spec import load_policy_spec
from tests.test_policy import write_spec


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    """The tiny spec of tests/test_policy.py: two levers, thresholds allies >= 10, years <= 2."""
    return load_policy_spec(write_spec(tmp_path_factory.mktemp("spec")))


def hand_result(spec, out) -> OptimizeResult:
    """Five designs; design 4 meets every threshold in every future, design 0 in none."""
    designs = pd.DataFrame(
        {
            "us_pressure_strength": [0.1, 0.2, 0.3, 0.4, 0.5],
            "retrenchment_threshold": [0.9, 0.8, 0.4, 0.6, 0.3],
            "allies": [6.0, 8.5, 10.0, 11.0, 12.5],
            "retrenchment_years": [4.0, 3.0, 2.0, 1.0, 0.0],
        }
    ).rename_axis("design")
    robustness = pd.DataFrame(
        {
            "satisficing": [1.0, 0.8, 0.5, 0.2, 0.0],
            "allies_mean": [12.0, 11.0, 10.0, 8.0, 6.0],
            "allies_max_regret": [0.0, 1.5, 2.25, 4.0, 6.0],
            "retrenchment_years_mean": [0.0, 1.0, 2.0, 3.0, 4.0],
            "retrenchment_years_max_regret": [0.0, 1.0, 3.0, 4.0, 5.0],
        },
        index=pd.Index([4, 3, 2, 1, 0], name="design"),
    )
    convergence = pd.DataFrame(
        {
            "generation": [1, 2, 3, 4, 5, 6],
            "nfe": [12, 24, 36, 48, 56, 60],
            "epsilon_progress": [5, 9, 12, 14, 16, 19],
            "archive_size": [3, 4, 4, 5, 5, 5],
            "hypervolume": [0.2, np.nan, 0.5, 0.58, np.nan, 0.6],
        }
    )
    futures = pd.DataFrame(
        {
            "threat_scale": np.linspace(0.65, 1.55, 10),
            "adjustment_speed": np.linspace(0.15, 0.75, 10),
        }
    ).rename_axis("future")
    outcomes = pd.DataFrame(
        {"design": np.repeat(range(5), 10), "future": np.tile(range(10), 5)}
    ).assign(allies=10.0, retrenchment_years=1.0)
    box = pd.DataFrame({"parameter": ["threat_scale"], "low": [1.05], "high": [1.6]})
    broken = DiscoveryResult(5, 10, pd.DataFrame(), box, 0.8, 1.0, pd.DataFrame())
    return OptimizeResult(
        spec=spec,
        out=out,
        designs=designs,
        convergence=convergence,
        futures=futures,
        outcomes=outcomes,
        robustness=robustness,
        breaking={4: None, 2: broken, 0: None},
    )


def test_lever_text_keeps_whole_numbers_and_rounds_the_rest():
    assert lever_text(2030) == "2030"
    assert lever_text(np.int64(-3)) == "-3"
    assert lever_text(0.123456) == "0.123"
    assert lever_text(np.float64(1234.5)) == "1.23e+03"
    assert lever_text(2.0) == "2"


def test_table_is_markdown_with_three_significant_digits():
    frame = pd.DataFrame({"design": [4, 0], "satisficing": [1.0, 0.123456], "note": ["a", "b"]})
    assert _table(frame) == (
        "| design | satisficing | note |\n|---|---|---|\n| 4 | 1 | a |\n| 0 | 0.123 | b |"
    )


def test_findings_name_the_robust_designs_what_breaks_them_and_which_levers_matter(spec, tmp_path):
    lines = findings(hand_result(spec, tmp_path))
    assert lines == [
        "Satisficing (every threshold met: max allies (>= 10), min retrenchment_years (<= 2)) "
        "ranges from 0% to 100% of the 10 futures across the 5 designs.",
        "Design 4 (`us_pressure_strength` 0.5, `retrenchment_threshold` 0.3) meets every threshold "
        "in 100% of futures; maximum regret allies 0, retrenchment_years 0. It fails in no future.",
        "Design 2 (`us_pressure_strength` 0.3, `retrenchment_threshold` 0.4) meets every threshold "
        "in 50% of futures; maximum regret allies 2.25, retrenchment_years 3. It misses a "
        "threshold in 5 futures; PRIM puts 80% of them in `threat_scale` 1.05-1.6 (density 100%: "
        "the share of futures there that break it).",
        "Design 0 (`us_pressure_strength` 0.1, `retrenchment_threshold` 0.9) meets every threshold "
        "in 0% of futures; maximum regret allies 6, retrenchment_years 5. It fails in every "
        "future.",
        # Spearman over the 5 designs: satisficing rises with us_pressure_strength; the ranks of
        # retrenchment_threshold (5, 4, 2, 3, 1) give 1 - 6 * 38 / (5 * 24) = -0.9
        "Rank correlation of each lever with satisficing across designs: "
        "`us_pressure_strength` +1.00, `retrenchment_threshold` -0.90.",
    ]


def test_findings_skip_the_rank_correlation_below_five_designs(spec, tmp_path):
    full = hand_result(spec, tmp_path)
    kept = [4, 2, 0]
    few = OptimizeResult(
        **{
            **vars(full),
            "designs": full.designs.loc[kept],
            "robustness": full.robustness.loc[kept],
        }
    )
    lines = findings(few)
    assert lines[0].endswith("ranges from 0% to 100% of the 10 futures across the 3 designs.")
    assert len(lines) == 4 and not any("Rank correlation" in line for line in lines)


def test_plot_convergence_draws_epsilon_progress_and_the_known_hypervolumes(spec, tmp_path):
    fig = plot_convergence(hand_result(spec, tmp_path))
    left, right = fig.axes
    (progress,) = left.get_lines()
    assert progress.get_xdata().tolist() == [12, 24, 36, 48, 56, 60]
    assert progress.get_ydata().tolist() == [5, 9, 12, 14, 16, 19]
    (hypervolume,) = right.get_lines()
    assert hypervolume.get_xdata().tolist() == [12, 36, 48, 60]  # generations without one left out
    assert hypervolume.get_ydata().tolist() == [0.2, 0.5, 0.58, 0.6]
    assert fig._suptitle.get_text() == "search: convergence of the search"


def test_plot_parcoords_puts_levers_on_their_searched_range_and_marks_the_most_robust(
    spec, tmp_path
):
    import matplotlib.pyplot as plt

    fig = plot_parcoords(hand_result(spec, tmp_path))
    try:
        names = [t.get_text() for ax in fig.axes for t in ax.get_xticklabels()]
        assert names == [
            "us_pressure_strength",
            "retrenchment_threshold",
            "allies",
            "retrenchment_years",
            "satisficing",
        ]
        # each axis is labelled with its limits: the levers' searched ranges, the data's otherwise
        limits = [[t.get_text() for t in ax.texts] for ax in fig.axes[:3]]
        assert limits == [["1.00", "0.00"], ["1.00", "0.20"], ["12.50", "6.00"]]
        first = fig.axes[0].get_lines()
        assert len(first) == 6  # five designs, then the most robust again
        # design 0: us_pressure_strength 0.1 on [0, 1], retrenchment_threshold 0.9 on [0.2, 1]
        assert first[0].get_ydata().tolist() == pytest.approx([0.1, 0.875])
        best = first[-1]
        assert (best.get_color(), best.get_linewidth()) == ("red", 3.0)
        assert best.get_ydata().tolist() == pytest.approx([0.5, 0.125])  # design 4
        assert [t.get_text() for t in fig.legends[0].texts] == ["design 4 (most robust)"]
    finally:
        plt.close(fig)


def test_write_report_writes_the_plots_and_the_numbers(spec, tmp_path):
    path = write_report(hand_result(spec, tmp_path))
    assert path == tmp_path / "report.md"
    for name in ("convergence.png", "parcoords.png"):
        assert (tmp_path / name).stat().st_size > 0
    text = path.read_text()
    lines = text.splitlines()
    assert lines[:3] == ["# Policy search: search", "", "test policy search"]
    source = f"`alliance optimize {spec.source}`."
    assert f"Scenario `hague-2035` (the reference future); seed 11; {source}" in lines
    assert "Levers: `us_pressure_strength` 0-1, `retrenchment_threshold` 0.2-1." in lines
    assert "Uncertainties: `threat_scale` 0.6-1.6, `adjustment_speed` 0.1-0.8." in lines
    assert "Objectives: max allies (>= 10), min retrenchment_years (<= 2)." in lines
    # the last 10% of evaluations are nfe 56 and 60: 19 - 16 = 3 improvements; the hypervolume
    # first reaches 0.95 * 0.6 = 0.57 at nfe 48
    assert (
        "eps-nsga2 (Platypus), population 12: 60 designs over 6 generations, each the mean of 2 "
        "runs in the reference future (the same seeds for every design). The final archive holds "
        "5 designs. Epsilon progress: 19 archive improvements in all, 3 in the last 10% of "
        "evaluations; the hypervolume reached 95% of its final value after 48 designs."
    ) in lines
    assert "![convergence](convergence.png)" in lines
    assert "## Robustness across 10 futures x 1 runs" in lines
    assert "| 2 | 0.3 | 0.4 | 10 | 2 |" in lines  # design 2 on the front
    assert "| 2 | 0.5 | 10 | 2.25 | 2 | 3 |" in lines  # and its robustness
    findings_at = lines.index("## Findings")
    assert lines[findings_at + 2].startswith("- Satisficing (every threshold met: ")
    assert "- Design 0 (`us_pressure_strength` 0.1" in text
    assert "![parallel coordinates](parcoords.png)" in lines
