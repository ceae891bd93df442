"""lbsim.report.drawing: jobs shared between a forked child and the caller
(answers in job order whoever ran them); each format of a figure encoded once."""

from __future__ import annotations

import gc
import io
import os
import time
from functools import partial

import pytest

from lbsim.report.drawing import encode_all, in_turn


def _job(index: int, pause: float) -> tuple[int, int]:
    time.sleep(pause)
    return index, os.getpid()


def test_answers_come_in_job_order_from_both_processes() -> None:
    jobs = [partial(_job, i, 0.1) for i in range(10)]
    with in_turn(jobs) as answers:
        time.sleep(0.5)  # the caller's other work: the child has started meanwhile
        got = answers()
    assert [index for index, _ in got] == list(range(10))
    pids = {pid for _, pid in got}
    # the child took the jobs it could start in the caller's 0.5 s (at most 6
    # of 0.1 s each), the two processes the rest: each ran some
    assert os.getpid() in pids
    assert len(pids) == 2


def test_one_job_runs_here_without_a_fork() -> None:
    with in_turn([partial(_job, 0, 0.0)]) as answers:
        assert answers() == [(0, os.getpid())]


def _fails() -> None:
    raise ValueError("no such plot")


def test_a_failing_job_raises_in_the_caller_whoever_ran_it() -> None:
    jobs = [_fails, *(partial(_job, i, 0.05) for i in range(1, 4))]
    with pytest.raises(ValueError, match="no such plot"), in_turn(jobs) as answers:
        time.sleep(0.3)  # likely the child's: it took job 0 first
        answers()


class _Counted:
    """A stand-in figure that counts its encodings by format."""

    def __init__(self) -> None:
        self.saved: list[str] = []

    def savefig(self, buffer: io.BytesIO, format: str, **_: object) -> None:
        self.saved.append(format)
        buffer.write(format.encode())


def test_each_format_is_encoded_once_png_first() -> None:
    fig = _Counted()
    files = encode_all(fig, ["svg", "png", "pdf"])  # type: ignore[arg-type]
    assert fig.saved == ["png", "svg", "pdf"]
    assert files == {"png": b"png", "svg": b"svg", "pdf": b"pdf"}


def _frozen_objects() -> int:
    return gc.get_freeze_count()


@pytest.mark.parametrize("count", [1, 3])  # without a fork, and with one
def test_the_heap_is_frozen_while_drawing_and_thawed_after(count: int) -> None:
    # frozen: collections set off by the drawing skip the objects already
    # there (this test process has tens of thousands); thawed after, even
    # when a job fails, or they would never be collected
    gc.unfreeze()  # nothing frozen before
    with in_turn([_frozen_objects] * count) as answers:
        assert all(frozen > 10_000 for frozen in answers())
    assert gc.get_freeze_count() == 0
    with pytest.raises(ValueError), in_turn([_fails] * count) as answers:
        answers()
    assert gc.get_freeze_count() == 0


def test_what_was_frozen_before_drawing_stays_frozen() -> None:
    # the CLI froze the libraries: drawing must not thaw them
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with in_turn([_frozen_objects] * 3) as answers:
            answers()
        # (frozen objects that die leave the count: not thawed means about the same)
        assert gc.get_freeze_count() > before - 1000
    finally:
        gc.unfreeze()
