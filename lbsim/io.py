"""The one atomic writer every output goes through, and sets of files that
belong together.

A file is written under a temporary name in its target's folder, flushed and
fsynced, then renamed onto the target: an interrupted run never leaves a
half-written file that looks complete, and the temporary file is removed on
any exception (SIGINT and, in the CLI, SIGTERM arrive as exceptions; see
:mod:`lbsim.interrupt`). Files get the usual umask permissions (``tempfile``
would make them private 0600; results are for sharing).

A *set* (:func:`write_set`: the files of a run folder, the tables of a sweep)
ends with a manifest (``run.json``, ``sweep.json``) written last, which lists
every file of the set with its SHA-256. Before the first file of a new set is
written, the old manifest goes, then the files it listed: a folder without its
manifest is incomplete, and a reader (:func:`read_member`) takes a file only if
the manifest lists it with that checksum, so files of two runs never pass for one.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Largest manifest or small data file read whole (run.json, baselines, cache entries).
MAX_JSON_BYTES = 64 << 20


class OutputError(ValueError):
    """An output that cannot be written or an input file that is damaged,
    stale or not lbsim's: reported as ``path: message`` (exit status 2)."""


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
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
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


def digest(data: bytes) -> str:
    """The checksum a manifest records: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    """:func:`digest` of a file's content, read in blocks."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return "sha256:" + sha.hexdigest()


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"key {key!r} appears twice")
        document[key] = value
    return document


def parse_json(data: bytes, where: Path | str) -> Any:
    """JSON of a file lbsim wrote; :class:`OutputError` naming ``where`` if
    it is too large, not UTF-8 JSON, or nested too deep to parse."""
    if len(data) > MAX_JSON_BYTES:
        raise OutputError(f"{where}: {len(data):,} bytes, more than lbsim ever writes here")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise OutputError(f"{where}: not UTF-8 text (byte {error.start})") from error
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except ValueError as error:
        raise OutputError(f"{where}: invalid JSON: {error}") from error
    except RecursionError as error:
        raise OutputError(f"{where}: nested too deep to be lbsim's") from error


def read_bytes(path: Path, limit: int = MAX_JSON_BYTES) -> bytes:
    """A regular file's content, at most ``limit`` bytes (:class:`OutputError` otherwise)."""
    try:
        if not path.is_file():
            raise OutputError(f"{path}: not a regular file")
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise OutputError(f"{path}: cannot read: {error.strerror or error}") from error
    if len(data) > limit:
        raise OutputError(f"{path}: larger than {limit:,} bytes")
    return data


def _listed(manifest: Any) -> list[str]:
    """Plain file names a manifest lists (names with a path part are ignored)."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        return []
    return [n for n in files if isinstance(n, str) and n and Path(n).name == n and n[0] != "."]


def retire(folder: Path, manifest: str, also: Iterable[str] = (), keep: Iterable[str] = ()) -> None:
    """Mark ``folder`` incomplete before a new set is written into it: remove
    the manifest first, then every file it listed and the names ``also``
    (except those in ``keep``, already written for the new set)."""
    path = folder / manifest
    try:
        old = json.loads(path.read_bytes()) if path.is_file() else None
    except (OSError, ValueError, RecursionError):
        old = None
    path.unlink(missing_ok=True)
    kept = set(keep)
    for name in dict.fromkeys(n for n in [*_listed(old), *also] if n not in kept):
        member = folder / name
        if member.is_file() or member.is_symlink():
            member.unlink()


def write_set(
    folder: Path,
    writers: Mapping[str, Callable[[str], object]],
    manifest: str,
    data: Mapping[str, Any],
    *,
    already: Iterable[Path] = (),
    stale: Iterable[str] = (),
) -> list[Path]:
    """Write a set of files into ``folder``, then ``manifest`` (``data`` plus
    ``files``: name -> :func:`digest` of every file written, and of the files
    ``already`` written into ``folder`` for this set). Returns the paths, the
    manifest last. The folder is :func:`retire`-d first (with ``stale``: names
    an older lbsim may have left without listing them)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in already]
    retire(folder, manifest, stale, keep=[p.name for p in paths])
    for name, write in writers.items():
        with atomic_path(folder / name) as tmp:
            write(tmp)
        paths.append(folder / name)
    files = {p.name: file_digest(p) for p in paths}
    document = {**data, "files": files}
    text = json.dumps(document, indent=2, default=str)
    paths.append(write_atomic(folder / manifest, text.encode("utf-8")))
    return paths


def read_manifest(folder: Path, manifest: str, hint: str) -> dict[str, Any]:
    """The manifest of a set, checked to be a JSON object with its file list."""
    path = folder / manifest
    if not path.exists():
        raise OutputError(f"{path}: missing; {hint}")
    document = parse_json(read_bytes(path), path)
    if not isinstance(document, dict):
        raise OutputError(f"{path}: expected a JSON object, found {type(document).__name__}")
    if not isinstance(document.get("files"), dict):
        raise OutputError(
            f"{path}: field files: missing; the folder was not written as a set by this "
            f"lbsim (or is incomplete): {hint}"
        )
    return document


def read_member(folder: Path, manifest: Mapping[str, Any], name: str) -> bytes | None:
    """A file of a set, if present: its bytes, checked against the manifest's
    checksum. :class:`OutputError` for a file the manifest does not list (left
    from another run) or whose content changed; None if absent."""
    path = folder / name
    if not path.exists():
        return None
    listed = manifest["files"].get(name)
    if listed is None:
        raise OutputError(
            f"{path}: not part of this run (not listed in its manifest): left from an "
            "earlier run or copied in; remove it or run again"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise OutputError(f"{path}: cannot read: {error.strerror or error}") from error
    if digest(data) != listed:
        raise OutputError(
            f"{path}: changed since lbsim wrote it (checksum differs from the manifest's): "
            "edited, truncated, or written by another run"
        )
    return data
