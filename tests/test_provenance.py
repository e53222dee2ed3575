"""sim.provenance: the package versions and the commit recorded with every result."""

import importlib.util
import platform
import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

import sim.provenance
from sim.provenance import git_commit, versions

REPO = Path(sim.provenance.__file__).resolve().parent.parent
PACKAGES = (
    "alliance-sim",
    "mesa",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "networkx",
    "duckdb",
    "dask",
    "distributed",
)
"""The packages a run depends on (pyproject.toml's dependencies that compute or store)."""


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_versions_name_python_and_every_package_a_run_depends_on():
    """Python first, then each package with its installed version."""
    found = versions()
    assert next(iter(found)) == "python" and set(PACKAGES) <= set(found)
    assert found["python"] == platform.python_version()
    for package in set(found) - {"python"}:
        assert found[package] == version(package), package


def test_versions_are_release_strings():
    """Every version (all are installed here) starts with dotted numbers; Mesa is pinned."""
    for name, value in versions().items():
        assert isinstance(value, str) and re.match(r"\d+(\.\d+)+", value), (name, value)
    assert versions()["mesa"] == "3.5.1"
    assert versions()["alliance-sim"] == version("alliance-sim")


@pytest.mark.skipif(
    not (REPO / ".git").exists() or shutil.which("git") is None, reason="not a git checkout"
)
def test_git_commit_is_the_checkouts_head_marked_dirty_when_it_has_changes():
    """A 40-hex SHA equal to HEAD, with "-dirty" exactly when ``git status`` lists changes."""
    commit = git_commit()
    assert commit is not None and re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit), commit
    assert commit.removesuffix("-dirty") == _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain"))
    assert commit.endswith("-dirty") == dirty


def test_git_commit_is_none_outside_a_repository(tmp_path):
    """The module's own code, loaded from a folder outside any git checkout, records None."""
    copy = tmp_path / "provenance_copy.py"
    shutil.copyfile(sim.provenance.__file__, copy)
    if shutil.which("git"):
        inside = subprocess.run(["git", "rev-parse"], cwd=tmp_path, capture_output=True)
        if inside.returncode == 0:
            pytest.skip(f"{tmp_path} is inside a git checkout")
    spec = importlib.util.spec_from_file_location("provenance_copy", copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.git_commit() is None


def test_versions_name_the_packages_a_sweeps_numbers_depend_on():
    """A sweep's design and indices come from SALib, its scenario discovery from ema_workbench,
    a posterior from pyabc: each is recorded with its installed version."""
    recorded = {name.lower().replace("_", "-"): v for name, v in versions().items()}
    for name in ("salib", "ema-workbench", "pyabc"):
        assert recorded[name] == version(name), name
