"""The shipped policy search, whole and interrupted: time, and byte-identity after kill -9.

Runs ``alliance optimize experiments/policy_search.toml`` twice into a temporary folder:

1. uninterrupted, timed, with the peak RSS of its process tree;
2. killed with SIGKILL once ``--kill-search`` generations are checkpointed, resumed with
   ``--resume``, killed again once ``--kill-reeval`` re-evaluation chunks are stored, and resumed
   to the end; after each kill it lists the processes of the run still alive (none expected).

Then it compares every file the two runs wrote (tables, report, search checkpoints, re-evaluation
parts; not the manifests, which hold times) byte for byte. About 5 minutes on an idle 2-core
machine::

    python experiments/check_policy_resume.py [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import filecmp
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
from bench_engines import GIB, PeakTreeRss, alliance_command

SPEC = Path(__file__).resolve().with_name("policy_search.toml")
SKIPPED = {"manifest.json", ".lock"}
"""Files that record when, how long or which process, so differ between runs."""


def _command(out: Path, workers: int, *extra: str) -> list[str]:
    return [alliance_command(), "optimize", str(SPEC), "--out", str(out), "--workers",
            str(workers), "--no-progress", *extra]  # fmt: skip


def _count(folder: Path, pattern: str) -> int:
    return len(list(folder.glob(pattern))) if folder.is_dir() else 0


def _kill_when(argv: list[str], folder: Path, pattern: str, count: int) -> list[int]:
    """Start ``argv``, SIGKILL its process group once ``count`` files match; pids left alive."""
    child = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    tree = []
    while _count(folder, pattern) < count:
        if child.poll() is not None:
            raise RuntimeError(f"the run ended before {count} files matched {pattern}")
        tree = psutil.Process(child.pid).children(recursive=True) or tree
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    _, alive = psutil.wait_procs(tree, timeout=5)
    return [p.pid for p in alive]


def _files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and p.name not in SKIPPED)  # fmt: skip


def main() -> None:
    """Run both, print the timings and the comparison; exit 1 if any file differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="workers (2)")
    parser.add_argument("--kill-search", type=int, default=80, help="generations before kill 1")
    parser.add_argument("--kill-reeval", type=int, default=60, help="chunks before kill 2")
    parser.add_argument("--keep", type=Path, help="write both runs here instead of a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        whole, cut = root / "whole", root / "interrupted"
        tic = time.perf_counter()
        child = subprocess.Popen(_command(whole, args.workers), stdout=subprocess.DEVNULL)
        with PeakTreeRss(child.pid) as memory:
            child.wait()
        if child.returncode:
            raise SystemExit(f"the uninterrupted run exited {child.returncode}")
        print(f"uninterrupted: {time.perf_counter() - tic:.1f} s, peak {memory.peak / GIB:.2f} GiB")
        tic = time.perf_counter()
        left = _kill_when(_command(cut, args.workers), cut / "search", "*", args.kill_search)
        print(f"killed after {args.kill_search} checkpoints; processes left: {left or 'none'}")
        argv = _command(cut, args.workers, "--resume")
        left = _kill_when(argv, cut / "reeval" / "runs", "*.parquet", args.kill_reeval)
        print(f"killed after {args.kill_reeval} re-evaluation chunks; processes left: "
              f"{left or 'none'}")  # fmt: skip
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        print(f"interrupted twice and resumed: {time.perf_counter() - tic:.1f} s in all")
        names = _files(whole)
        differ = [n for n in names if not filecmp.cmp(whole / n, cut / n, shallow=False)]
        missing = sorted(set(names) ^ set(_files(cut)))
        print(f"{len(names)} files compared; differing: {differ or 'none'}; "
              f"in one run only: {missing or 'none'}")  # fmt: skip
        if differ or missing:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
