"""Per-ally inputs beyond NATO's tables, each file with its sources in ``scenarios/data/``.

* ``related_spending.csv``: defence-related spending (The Hague's "up to 1.5%" basket) each
  ally already had when the pledge was made, where documented; a blank value means none was
  found and the ``related_start_pct`` parameter (a stated assumption) applies.
* ``rivalries.csv``: a documented secondary rivalry (an ally that spends against a rival other
  than Russia).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from sim.data import ReferenceDataError, data_dir

RELATED_FILE = "related_spending.csv"
RIVALRIES_FILE = "rivalries.csv"


def _read(name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    path = data_dir() / name
    if not path.is_file():
        raise ReferenceDataError(f"{path}: file not found")
    df = pd.read_csv(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ReferenceDataError(f"{name}: missing columns {missing}")
    if df["iso3"].duplicated().any():
        raise ReferenceDataError(f"{name}: an ally appears twice")
    return df.set_index("iso3")


@cache
def related_start() -> pd.Series:
    """Documented related spending at the start (% GDP) by ally; NaN where none was found."""
    df = _read(RELATED_FILE, ("iso3", "related_pct_gdp", "basis", "source"))
    values = pd.to_numeric(df["related_pct_gdp"], errors="raise")
    if ((values < 0) | (values > 2.0)).any():
        raise ReferenceDataError(f"{RELATED_FILE}: related_pct_gdp outside [0, 2]")
    documented = values.notna()
    if (df.loc[documented, "source"].isna()).any():
        raise ReferenceDataError(f"{RELATED_FILE}: a documented value needs a source")
    return values


def related_start_shares(iso3: np.ndarray, default_pct: float) -> np.ndarray:
    """Each ally's related share at the start: documented where known, else ``default_pct``."""
    known = related_start().reindex(iso3)
    return known.fillna(default_pct).to_numpy(dtype=float)


@cache
def rivalries() -> pd.DataFrame:
    """Documented secondary rivalries: the rival and the source, by ally."""
    df = _read(RIVALRIES_FILE, ("iso3", "rival", "source"))
    if df["source"].isna().any():
        raise ReferenceDataError(f"{RIVALRIES_FILE}: a rivalry needs a source")
    return df


def has_rival(iso3: np.ndarray) -> np.ndarray:
    """1.0 for each ally with a documented secondary rival, else 0.0."""
    return np.isin(iso3, rivalries().index).astype(float)


def exposure_regression(edition: str = "2026") -> dict[str, float]:
    """OLS of the 2014-2025 rise in core share on distance, a land border and a coast.

    rise_i = a + b ln(km_i) + c border_i + d coast_i over the European allies with both years
    published (the US, Canada and Iceland left out). The source of ``threat_border_exposure``
    and ``threat_sea_exposure``: c and d over -b ln(reach/near).

    Returns:
        ``const``, ``ln_km``, ``border``, ``coast`` (pp), ``r2`` and ``n``.
    """
    from sim.data import load_reference

    ref = load_reference(edition=edition)
    a = ref.allies
    frame = (
        pd.DataFrame(
            {
                "rise": ref.core[2025] - ref.core[2014],
                "ln_km": np.log(a["capital_to_russia_or_belarus_km"].astype(float)),
                "border": ((a["borders_russia"] + a["borders_belarus"]) > 0).astype(float),
                "coast": ((a["baltic_sea_coast"] + a["black_sea_coast"]) > 0).astype(float),
            }
        )
        .drop(index=["USA", "CAN"])
        .dropna()
    )
    x = np.column_stack([np.ones(len(frame)), frame[["ln_km", "border", "coast"]].to_numpy()])
    y = frame["rise"].to_numpy()
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    r2 = 1 - ((y - x @ beta) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    names = ("const", "ln_km", "border", "coast")
    return {**dict(zip(names, map(float, beta), strict=True)), "r2": float(r2), "n": len(frame)}
