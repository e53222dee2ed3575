"""Tests for sim/executors.py: a stop signal is recorded and raised only where the driver checks."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from sim.executors import Stopped, deferred_stop
from sim.store import BatchStore


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_waits_for_the_check(signum):
    # A process started in the background (`cmd &` without job control) ignores SIGINT, and
    # deferred_stop keeps an ignored signal ignored (next test): take the signal's default first.
    default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
    outer = signal.signal(signum, default)
    try:
        with deferred_stop() as check:
            check()  # nothing received yet
            os.kill(os.getpid(), signum)  # delivered now, but only recorded
            with pytest.raises(Stopped) as stopped:
                check()
        assert signal.getsignal(signum) is default  # the previous handler is back
    finally:
        signal.signal(signum, outer)
    assert stopped.value.signum == signum
    assert isinstance(stopped.value, KeyboardInterrupt)


def test_an_ignored_signal_stays_ignored():
    """A background job ignores SIGINT; the batch must not start to take it."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with deferred_stop() as check:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            check()
    finally:
        signal.signal(signal.SIGINT, before)


def test_workers_forkserver_and_tracker_die_with_a_killed_driver(tmp_path):
    """kill -9 of the driver alone: no process it started outlives it by more than a few seconds."""
    out = tmp_path / "killed"
    cmd = [
        sys.executable, "-m", "sim.cli", "batch", "hague-2035", "--replications", "200",
        "--engine", "mesa", "--chunk-size", "1", "--workers", "2", "--out", str(out),
        "--no-progress",
    ]  # fmt: skip
    driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(BatchStore(out).done_chunks()) < 2:
        assert driver.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    started = psutil.Process(driver.pid).children(recursive=True)
    assert len(started) >= 3  # resource tracker, forkserver, workers
    driver.kill()
    driver.wait()
    _, alive = psutil.wait_procs(started, timeout=15)
    for p in alive:
        p.kill()
    assert not alive, [p.cmdline()[-1][:80] for p in alive]
