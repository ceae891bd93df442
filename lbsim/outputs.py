"""Output paths, checked before any work is done, and the lock on an output folder.

*Folders* (``lbsim run --out``, ``lbsim sweep --out``, ``lbsim report -o``):
:func:`claim_folder` accepts a folder that does not exist yet, an empty one
(or one holding only lbsim's folders, such as ``sweep/``), or one lbsim wrote
of the same kind (it holds :data:`LOCK`, or the manifest of
an older lbsim: ``run.json`` / ``sweep.json``). Anything else, a file or a
folder with other people's files, is refused with exit status 2 before the
simulation starts. The claim takes an exclusive ``flock`` on the folder's
:data:`LOCK` file for as long as the command writes, so a second lbsim
writing into the same folder at the same time is refused instead of mixing
its files with the first one's.

*Files* (``--junit``, ``--markdown``, ``--csv``, ``--plot``, ``baseline -o``,
``--animate``): :func:`check_file` refuses a folder, a device or FIFO, a path
under a file, and an existing non-empty file that lbsim did not write (one
without the writer's signature), so re-recording a baseline or appending a
CI summary to ``$GITHUB_STEP_SUMMARY`` works while a stray path never
clobbers someone's file.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from lbsim.io import OutputError

#: The lock file in every folder lbsim writes; its first word is the folder's kind.
LOCK = ".lbsim.lock"
#: How the folders of an older lbsim (without :data:`LOCK`) are recognised.
_LEGACY = {"run": "run.json", "sweep": "sweep.json"}
_HELD: set[Path] = set()
_SIGNATURE_SPAN = 1 << 16


def _existing_ancestor(path: Path, label: str) -> None:
    """The nearest existing ancestor of ``path`` must be a writable folder."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{label}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise OutputError(f"{label}: cannot write into {parent} (permission denied)")
            return


def check_file(path: Path, option: str, signature: bytes | None = None) -> Path:
    """``path`` as a file output named by ``option``, or :class:`OutputError`.

    An existing regular file is replaced only if it is empty or holds
    ``signature`` in its first or last 64 KiB (what lbsim's writer puts
    there); without a ``signature`` any regular file may be replaced."""
    label = f"{option} {path}"
    _existing_ancestor(path, label)
    if path.is_dir():
        raise OutputError(f"{label}: is a folder; give a file name")
    if path.exists() and not path.is_file():
        raise OutputError(f"{label}: not a regular file (a device, FIFO or socket)")
    if signature is not None and path.is_file() and not _signed(path, signature):
        raise OutputError(
            f"{label}: exists and was not written by lbsim; refusing to overwrite it "
            "(remove it or choose another name)"
        )
    return path


def _signed(path: Path, signature: bytes) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(_SIGNATURE_SPAN)
        if not head:
            return True
        handle.seek(max(0, os.fstat(handle.fileno()).st_size - _SIGNATURE_SPAN))
        tail = handle.read(_SIGNATURE_SPAN)
    return signature in head or signature in tail


def folder_kind(path: Path) -> str | None:
    """``run``, ``sweep`` or ``report`` for a folder lbsim wrote, else None."""
    if not path.is_dir():
        return None
    lock = path / LOCK
    if lock.is_file():
        try:
            words = lock.read_text(errors="replace").split()
        except OSError:
            words = []
        return words[0] if words else None
    for kind, manifest in _LEGACY.items():
        if (path / manifest).is_file():
            return kind
    return None


def check_folder(path: Path, kind: str, option: str, accept: Sequence[str] = ()) -> Path:
    """``path`` as an output folder of ``kind`` (or of a kind in ``accept``),
    or :class:`OutputError`; see the module docstring."""
    label = f"{option} {path}"
    _existing_ancestor(path, label)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{label}: is a file; give a folder (lbsim writes several files)")
    if not path.is_dir():
        return path
    try:
        # lbsim's own subfolders (reports/<name>/sweep/ before the first run) do not count
        entries = sorted(e.name for e in path.iterdir() if not folder_kind(e))
    except OSError as error:
        raise OutputError(f"{label}: cannot list: {error.strerror or error}") from error
    if not entries:
        return path
    found = folder_kind(path)
    if found is None:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise OutputError(
            f"{label}: a folder lbsim did not write (it holds {shown}); refusing to write "
            "into it: choose another folder or empty it"
        )
    if found != kind and found not in accept:
        raise OutputError(f"{label}: an lbsim {found} folder, not a {kind} folder")
    return path


@contextmanager
def claim_folder(
    path: Path, kind: str, option: str = "--out", accept: Sequence[str] = ()
) -> Iterator[Path]:
    """Check ``path`` (:func:`check_folder`), create it and hold its lock for
    the block; a second claim of the same folder in this process is a no-op.
    :class:`OutputError` if another process holds the lock."""
    check_folder(path, kind, option, accept)
    key = path.resolve()
    if key in _HELD:
        yield path
        return
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            holder = os.pread(fd, 200, 0).decode(errors="replace").split()
            who = f" (pid {holder[1]})" if len(holder) > 1 else ""
            raise OutputError(
                f"{option} {path}: another lbsim{who} is writing into this folder; "
                "wait for it to finish or choose another folder"
            ) from error
        except OSError as error:  # a file system without locks: write unlocked
            if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
        words = os.pread(fd, 200, 0).decode(errors="replace").split()
        first = words[0] if words else kind
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{first} {os.getpid()}\n".encode(), 0)
        _HELD.add(key)
        try:
            yield path
        finally:
            _HELD.discard(key)
    finally:
        os.close(fd)
