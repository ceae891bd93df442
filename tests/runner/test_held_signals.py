"""``lbsim.interrupt.held``: a signal during the block (here, while a pool
spawns its workers) is raised right after it, never inside it."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from lbsim import interrupt


@pytest.fixture
def installed() -> Iterator[None]:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    interrupt.install()
    yield
    signal.signal(signal.SIGINT, before[0])
    signal.signal(signal.SIGTERM, before[1])


def test_a_signal_in_the_block_is_raised_after_it(installed: object) -> None:
    reached_the_end = False
    with pytest.raises(interrupt.Terminated), interrupt.held():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # bytecodes enough for Python to run the handler
            pass
        reached_the_end = True
    assert reached_the_end
    assert interrupt.exit_code(interrupt.Terminated()) == 128 + signal.SIGTERM
    interrupt.check()  # handled: nothing pending any more


def test_without_a_signal_the_block_just_runs(installed: object) -> None:
    with interrupt.held():
        total = sum(range(10))
    assert total == 45
