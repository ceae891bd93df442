"""The one atomic writer every output goes through.

A file is written under a temporary name in its target's folder, flushed and
fsynced, then renamed onto the target: an interrupted run never leaves a
half-written file that looks complete. Files get the usual umask permissions
(``tempfile`` would make them private 0600; results are for sharing).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: Path) -> Iterator[str]:
    """A temporary path beside ``target`` for a writer that wants a file name;
    fsynced and renamed onto ``target`` only if the block succeeds."""
    tmp = _temporary(target)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield str(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
    return path


def write_files(out_dir: Path, writers: dict[str, Callable[[str], object]]) -> list[Path]:
    """Write each file of ``writers`` (name -> writer of a path) atomically."""
    paths = []
    for name, write in writers.items():
        with atomic_path(out_dir / name) as tmp:
            write(tmp)
        paths.append(out_dir / name)
    return paths
