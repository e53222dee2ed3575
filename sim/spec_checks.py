"""What the project's TOML files share: one error, one reader and one set of value checks.

Scenario files (``sim.scenario``), experiment specs (``sim.experiment``) and the calibration file
(``sim.parameters``) report a bad file the same way: ``FILE: FIELD: problem``, one line. The checks
return the problem (or None) and the loaders raise their own subclass of ``SpecError``, so a
caller can tell which kind of file was wrong.
"""

from __future__ import annotations

import math
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

KIND_NAMES = {float: "a number", int: "a whole number", str: "a string", dict: "a table"}
KIND_NAMES |= {list: "a list", date: "a date (2025-12-31)"}


def printable(text: str) -> str:
    r"""``text`` safe to print or store: bytes of a file name that are not UTF-8 as ``\xNN``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


class SpecError(ValueError):
    """An invalid input file; the message is ``FILE: FIELD: problem`` (or ``FILE: problem``)."""

    def __init__(self, source: str, where: str, problem: str):
        source = printable(source)
        self.source, self.where, self.problem = source, where, problem
        super().__init__(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")


def read_toml(path: Path, error: type[SpecError] = SpecError, source: str | None = None) -> dict:
    """Parse a TOML file, or raise ``error`` saying in one line why it cannot be read.

    Args:
        path: The file.
        error: The ``SpecError`` subclass to raise.
        source: How messages name the file (default: ``path`` as given).
    """
    source = str(path) if source is None else source
    if path.exists() and not path.is_file():
        raise error(source, "", "not a file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise error(source, "", f"not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise error(source, "", "not valid TOML (not UTF-8 text)") from None
    except OSError as exc:
        raise error(source, "", f"cannot read ({exc.strerror})") from None


def type_problem(value: Any, kind: type) -> str | None:
    """Why ``value`` is not of ``kind`` (a finite number for ``float``), or None."""
    if kind in (float, int):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and (kind is float or isinstance(value, int))
    else:
        ok = isinstance(value, kind)
    if not ok:
        return f"expected {KIND_NAMES[kind]}, got {type(value).__name__} {value!r}"
    if kind is float and not math.isfinite(value):
        return f"must be finite, got {value}"
    return None


MISSING = object()
"""``get_field``'s default when a field is required."""


def get_field(
    error: type[SpecError], src: str, table: dict, key: str, kind: type, default: Any = MISSING
) -> Any:
    """``table[key]``, checked to be of ``kind``; ``default`` when absent, unless required.

    Raises:
        error: The field is required and absent, or not of ``kind``.
    """
    if key not in table:
        if default is MISSING:
            raise error(src, key, "missing")
        return default
    problem = type_problem(table[key], kind)
    if problem:
        raise error(src, key, problem)
    return table[key]


def range_problem(value: float, low: float, high: float) -> str | None:
    """Why ``value`` is outside ``[low, high]``, or None."""
    if low <= value <= high:
        return None
    return f"{value} is outside the allowed range [{low:g}, {high:g}]"


def unknown_problem(key: str, allowed) -> str | None:
    """Why ``key`` is not one of ``allowed`` (naming them), or None."""
    if key in allowed:
        return None
    return f"unknown field (expected one of {', '.join(allowed)})"
