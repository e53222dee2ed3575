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
