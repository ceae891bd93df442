"""Reading the files a user names: regular files only, at most a limit of
bytes, UTF-8, and (for files a scenario names) inside the scenario's folder.

A FIFO, a device such as ``/dev/zero`` or a folder is refused by its type
before a byte is read (a ``/proc`` file once it shows it is not what its
size says), so nothing blocks or fills memory; a file is
opened without blocking and checked again once open. Messages name the file
and the reason, never its contents.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = {
    stat.S_ISDIR: "a folder",
    stat.S_ISFIFO: "a FIFO (named pipe)",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}


class FileError(ValueError):
    """A file that may not or cannot be read (the message says why)."""


def _kind(mode: int) -> str | None:
    """What a non-regular file is, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS.items() if test(mode)), "not a regular file")


def _size(limit: int) -> str:
    return f"{limit // 1_000_000} MB" if limit % 1_000_000 == 0 else f"{limit} bytes"


def read_text(path: Path, limit: int) -> str:
    """The UTF-8 text of the regular file ``path``, at most ``limit`` bytes."""
    try:
        kind = _kind(os.stat(path).st_mode)
        if kind is not None:
            raise FileError(f"is {kind}, not a regular file")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            kind = _kind(info.st_mode)
            if kind is not None:
                raise FileError(f"is {kind}, not a regular file")
            if info.st_size > limit:
                raise FileError(f"is {info.st_size} bytes; the limit is {_size(limit)}")
            data = handle.read(limit + 1)
            if data and info.st_size == 0:  # /proc and /sys files say they are empty
                raise FileError("is a virtual file (as in /proc), not a regular file")
    except FileNotFoundError:
        raise FileError("no such file") from None
    except OSError as err:
        raise FileError(err.strerror or type(err).__name__) from None
    if len(data) > limit:
        raise FileError(f"is larger than the limit of {_size(limit)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FileError(f"is not UTF-8 text (byte {err.start + 1})") from None


def inside(base: Path, name: str, allow_outside: bool) -> Path:
    """``name`` resolved against the folder ``base``; refused if it leaves
    ``base`` (absolute, ``..``, a symbolic link out) unless ``allow_outside``."""
    if "\x00" in name:
        raise FileError("a file name may not hold a NUL character")
    path = base / name
    if allow_outside:
        return path
    folder = base.resolve()
    try:
        path.resolve().relative_to(folder)
    except ValueError:
        raise FileError(
            "is outside the scenario's folder; pass --allow-outside-files to read it"
        ) from None
    return path
