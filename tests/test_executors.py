"""Tests for sim/executors.py: a stop signal is recorded and raised only where the driver checks."""

import os
import signal

import pytest

from sim.executors import Stopped, deferred_stop


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_waits_for_the_check(signum):
    before = signal.getsignal(signum)
    with deferred_stop() as check:
        check()  # nothing received yet
        os.kill(os.getpid(), signum)  # delivered now, but only recorded
        with pytest.raises(Stopped) as stopped:
            check()
    assert stopped.value.signum == signum
    assert isinstance(stopped.value, KeyboardInterrupt)
    assert signal.getsignal(signum) is before  # the previous handler is back


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
