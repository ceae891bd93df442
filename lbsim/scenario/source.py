"""Reading a YAML document while remembering where every value came from.

PyYAML's ``safe_load`` forgets line numbers, expands aliases without limit (a
"billion laughs" document of a few hundred bytes expands to gigabytes),
recurses once per nesting level and accepts tags such as ``!!binary`` and
``!!set``. Here the parser's event stream is composed into plain data by
hand, without recursion: each mapping key and sequence item records its
``(line, column)`` under its path; duplicate keys, collection or non-text
keys, explicit tags other than the core ones, recursive aliases, nesting past
:data:`MAX_DEPTH` and documents expanding past :data:`MAX_NODES` values are
refused with their position. Merge keys (``<<: *defaults``) merge as YAML
defines them: keys written in the mapping win over merged ones, and earlier
merged mappings over later ones.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 100
_REPARSE_BYTES = 100_000  # syntax errors of smaller texts are worded by PyYAML's parser

Path_ = tuple[str | int, ...]
Marks = dict[Path_, tuple[int, int]]

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {"!", *(_CORE + t for t in ("str", "int", "float", "bool", "null"))}
_COLLECTION_TAGS = {"!", _CORE + "seq", _CORE + "map"}
_IMPLICIT = {_CORE + t for t in ("int", "float", "bool", "null", "merge")}
_MERGE = _CORE + "merge"
_STR = _CORE + "str"
# what the YAML spec does not allow unescaped (PyYAML's Reader.NON_PRINTABLE)
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(ValueError):
    """A document that cannot be read, with its 1-based position when known."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


def _position(mark: Any) -> tuple[int, int]:
    """1-based line and column of a PyYAML or libyaml mark."""
    return (mark.line + 1, mark.column + 1) if mark else (1, 1)


@dataclass
class _Collection:
    """A mapping or sequence being composed."""

    path: Path_
    value: dict[Any, Any] | list[Any]
    mark: tuple[int, int]
    anchor: str | None
    first: int  # index of its first entry in the marks list
    key: Any = None  # a mapping's key waiting for its value
    key_mark: tuple[int, int] = (1, 1)
    expecting_key: bool = True
    merge_first: int = 0  # where the marks of the `<<` value start
    merges: list[tuple[dict[Any, Any], Path_, int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class _Anchor:
    value: Any
    path: Path_
    marks: list[tuple[Path_, tuple[int, int]]]
    depth: int
    size: int


class _Composer:
    """Plain data and marks from a parser's events."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.marks: list[tuple[Path_, tuple[int, int]]] = []
        self.stack: list[_Collection] = []
        self.anchors: dict[str, _Anchor] = {}
        self.expanded = 0

    def count(self, n: int, at: tuple[int, int]) -> None:
        self.expanded += n
        if self.expanded > MAX_NODES:
            raise YamlError(
                f"document expands to more than {MAX_NODES} values (alias bomb?); refused", *at
            )

    def path_here(self) -> Path_:
        if not self.stack:
            return ()
        top = self.stack[-1]
        return (*top.path, top.key if isinstance(top.value, dict) else len(top.value))

    def compose(self) -> tuple[Any, Marks]:
        loader = self.loader
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None, {}
        loader.get_event()  # document start
        result: list[Any] = []
        while not loader.check_event(yaml.DocumentEndEvent):
            self.event(loader.get_event(), result)
        loader.get_event()
        if not loader.check_event(yaml.StreamEndEvent):
            at = _position(loader.peek_event().start_mark)
            raise YamlError("a scenario file holds one YAML document, not several", *at)
        return (result[0] if result else None), dict(self.marks)

    def event(self, event: yaml.Event, result: list[Any]) -> None:
        at = _position(event.start_mark)
        top = self.stack[-1] if self.stack else None
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self.close(result)
            return
        if top is not None and isinstance(top.value, dict) and top.expecting_key:
            self.key(event, top, at)
            return
        path = self.path_here()
        if top is not None:
            self.marks.append((path, top.key_mark if isinstance(top.value, dict) else at))
        if isinstance(event, yaml.AliasEvent):
            self.add(self.alias(event, path, at), result)
        elif isinstance(event, yaml.ScalarEvent):
            self.count(1, at)
            value = self.scalar(event, at)
            if event.anchor is not None:
                self.anchors[event.anchor] = _Anchor(value, path, [], 0, 1)
            self.add(value, result)
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            self.open(event, path, at)

    def key(self, event: yaml.Event, top: _Collection, at: tuple[int, int]) -> None:
        if isinstance(event, yaml.AliasEvent):
            key = self.anchors[event.anchor].value if event.anchor in self.anchors else None
        elif isinstance(event, yaml.ScalarEvent):
            tag = self.tag(event)
            key = _MERGE if tag == _MERGE else self.scalar(event, at, tag)
        else:
            key = None
        if key is not _MERGE and (isinstance(key, bool) or not isinstance(key, str | int)):
            raise YamlError("mapping keys must be text or integers", *at)
        assert isinstance(top.value, dict)
        if key in top.value or (key == _MERGE and top.merges):
            shown = "<<" if key == _MERGE else repr(key)
            raise YamlError(f"duplicate key {shown}", *at)
        top.key, top.key_mark, top.expecting_key = key, at, False
        top.merge_first = len(self.marks)

    def tag(self, event: yaml.ScalarEvent) -> str:
        if event.tag is None:
            resolved: str = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            return resolved if resolved in _IMPLICIT else _STR
        return event.tag

    def scalar(self, event: yaml.ScalarEvent, at: tuple[int, int], tag: str = "") -> Any:
        tag = tag or self.tag(event)
        if tag in (_STR, "!", _MERGE):
            return event.value
        if tag not in _SCALAR_TAGS:
            raise YamlError(f"tag {event.tag} is not allowed; use plain YAML values", *at)
        node = yaml.ScalarNode(tag, event.value, style=event.style)
        try:
            return self.loader.yaml_constructors[tag](self.loader, node)
        except (ValueError, KeyError, TypeError, yaml.YAMLError) as err:
            if "digits" in str(err):
                message = f"an integer of {len(event.value)} digits is too large"
            else:
                message = f"{event.value[:40]!r} is not a valid {tag.removeprefix(_CORE)}"
            raise YamlError(message, *at) from None

    def open(self, event: yaml.CollectionStartEvent, path: Path_, at: tuple[int, int]) -> None:
        if event.tag is not None and event.tag not in _COLLECTION_TAGS:
            raise YamlError(f"tag {event.tag} is not allowed; use plain YAML values", *at)
        if len(self.stack) >= MAX_DEPTH:
            raise YamlError(f"nested more than {MAX_DEPTH} levels deep; refused", *at)
        self.count(1, at)
        value: dict[Any, Any] | list[Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
        self.stack.append(_Collection(path, value, at, event.anchor, len(self.marks)))

    def alias(self, event: yaml.AliasEvent, path: Path_, at: tuple[int, int]) -> Any:
        if any(c.anchor == event.anchor for c in self.stack):
            raise YamlError(f"recursive alias *{event.anchor} (refers to itself)", *at)
        anchor = self.anchors.get(event.anchor or "")
        if anchor is None:
            raise YamlError(f"unknown alias *{event.anchor}", *at)
        if len(self.stack) + anchor.depth > MAX_DEPTH:
            raise YamlError(f"nested more than {MAX_DEPTH} levels deep; refused", *at)
        self.count(anchor.size, at)
        cut = len(anchor.path)
        self.marks += [((*path, *p[cut:]), m) for p, m in anchor.marks]
        return copy.deepcopy(anchor.value)

    def close(self, result: list[Any]) -> None:
        done = self.stack.pop()
        if done.merges:
            self.merge(done)
        entries = self.marks[done.first :]
        if done.anchor is not None:
            depth = 1 + max((len(p) - len(done.path) for p, _ in entries), default=0)
            self.anchors[done.anchor] = _Anchor(
                done.value, done.path, entries, depth, max(len(entries), 1)
            )
        self.add(done.value, result, anchor_done=True)

    def merge(self, done: _Collection) -> None:
        """Fill in merged keys the mapping does not write itself."""
        assert isinstance(done.value, dict)
        for source, source_path, first, last in done.merges:
            for key, value in source.items():
                if key in done.value:
                    continue
                done.value[key] = value
                old = (*source_path, key)
                self.marks += [
                    ((*done.path, key, *p[len(old) :]), m)
                    for p, m in self.marks[first:last]
                    if p[: len(old)] == old
                ]

    def add(self, value: Any, result: list[Any], anchor_done: bool = False) -> None:
        if not self.stack:
            result.append(value)
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
            return
        if top.key == _MERGE:
            self.merge_value(top, value)
        else:
            top.value[top.key] = value
        top.expecting_key = True

    def merge_value(self, top: _Collection, value: Any) -> None:
        sources = value if isinstance(value, list) else [value]
        if not sources or not all(isinstance(s, dict) for s in sources):
            at = top.key_mark
            raise YamlError("a merge key (<<) takes a mapping or a list of mappings", *at)
        # the marks of the merged mappings sit under path.<< (item index for a list)
        here = (*top.path, _MERGE)
        for index, source in enumerate(sources):
            source_path = (*here, index) if isinstance(value, list) else here
            top.merges.append((source, source_path, top.merge_first, len(self.marks)))


def _control_character(text: str) -> YamlError | None:
    found = _NON_PRINTABLE.search(text)
    if found is None:
        return None
    line = text.count("\n", 0, found.start()) + 1
    col = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    code = ord(found.group())
    return YamlError(
        f"character U+{code:04X} (a control character) is not allowed in YAML "
        f"(write it as an escape, \\x{code:02x}, inside double quotes)",
        line,
        col,
    )


def parse(text: str) -> tuple[Any, Marks]:
    """The document's data and the position of every key and item, by path.

    Raises :class:`YamlError` on syntax errors, disallowed tags and
    characters, alias bombs, deep nesting and oversized text.
    """
    if len(text.encode(errors="surrogatepass")) > MAX_BYTES:
        raise YamlError(f"file is larger than {MAX_BYTES // 1_000_000} MB; refused")
    bad = _control_character(text)
    if bad is not None:
        raise bad
    try:
        return _compose(text, _Loader)
    except yaml.MarkedYAMLError as err:
        error = err
    except yaml.YAMLError as err:
        raise YamlError(f"YAML error: {err}") from None
    if len(text) <= _REPARSE_BYTES and _Loader is not yaml.SafeLoader:
        try:  # PyYAML's own parser words syntax errors better than libyaml
            _compose(text, yaml.SafeLoader)
        except yaml.MarkedYAMLError as worded:
            error = worded
        except (yaml.YAMLError, YamlError):
            pass
    line, col = _position(error.problem_mark)
    raise YamlError(f"YAML syntax error: {error.problem or error.context}", line, col)


def _compose(text: str, kind: type[yaml.SafeLoader]) -> tuple[Any, Marks]:
    loader = kind(text)
    try:
        return _Composer(loader).compose()
    finally:
        loader.dispose()
