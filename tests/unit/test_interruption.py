"""SIGINT and SIGTERM stop a run once, cleanly: a second signal during the cleanup does not cut it short."""
import os
import signal
import time

import pytest

from toolkit.release.interruption import Interrupted, interruptible


def test_the_first_signal_interrupts_and_a_second_during_the_cleanup_is_said_and_ignored():
    said, cleaned = [], []
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(Interrupted) as raised:
        with interruptible(said.append):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(2)
                pytest.fail("SIGTERM did not interrupt")
            finally:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the run cancels what it started
                time.sleep(0.2)
                cleaned.append(True)
    assert raised.value.signal_name == "SIGTERM" and raised.value.exit_code == 143
    assert cleaned == [True]
    assert said == ["SIGINT received: already stopping (SIGTERM); cancelling what this run started and giving the "
                    "lock back first"]
    assert {number: signal.getsignal(number) for number in before} == before


def test_sigint_exits_130():
    assert Interrupted("SIGINT").exit_code == 130 and isinstance(Interrupted(), KeyboardInterrupt)


def test_a_signal_inside_a_shielded_section_is_raised_when_the_section_ends():
    from toolkit.release.interruption import shielded

    said, written = [], []
    with pytest.raises(Interrupted) as raised:
        with interruptible(said.append):
            with shielded():  # a ledger record being written
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)
                written.append("record")
            pytest.fail("the held signal was not raised")
    assert written == ["record"] and raised.value.signal_name == "SIGINT"
    assert said == ["SIGINT received: stopping once the ledger record or the lock's release under way is done"]
