"""Reading a YAML document while remembering where every value came from.

PyYAML's ``safe_load`` forgets line numbers and expands aliases without limit
(a "billion laughs" document of a few hundred bytes expands to gigabytes). Here
the document is composed into nodes, then walked by hand: each mapping key and
sequence item records its ``(line, column)`` under its path, duplicate keys are
refused, and the walk counts every node it expands, refusing past a limit.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1_000_000
MAX_NODES = 200_000

Path_ = tuple[str | int, ...]
Marks = dict[Path_, tuple[int, int]]


class YamlError(ValueError):
    """A document that cannot be read, with its 1-based position when known."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


def _position(mark: yaml.Mark | None) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark else (1, 1)


class _Walker:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.marks: Marks = {}
        self.expanded = 0

    def walk(self, node: yaml.Node, path: Path_) -> Any:
        self.expanded += 1
        if self.expanded > MAX_NODES:
            line, col = _position(node.start_mark)
            raise YamlError(
                f"document expands to more than {MAX_NODES} values (alias bomb?); refused",
                line,
                col,
            )
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merges
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int):
                    raise YamlError(
                        "mapping keys must be text or integers", *_position(key_node.start_mark)
                    )
                if key in result:
                    raise YamlError(f"duplicate key {key!r}", *_position(key_node.start_mark))
                self.marks[(*path, key)] = _position(key_node.start_mark)
                result[key] = self.walk(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.marks[(*path, index)] = _position(item.start_mark)
                items.append(self.walk(item, (*path, index)))
            return items
        return self.loader.construct_object(node, deep=True)


def parse(text: str) -> tuple[Any, Marks]:
    """The document's data and the position of every key and item, by path.

    Raises :class:`YamlError` on syntax errors, alias bombs and oversized text.
    """
    if len(text.encode()) > MAX_BYTES:
        raise YamlError(f"file is larger than {MAX_BYTES // 1_000_000} MB; refused")
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        walker = _Walker(loader)
        data = walker.walk(node, ())
        return data, walker.marks
    except yaml.MarkedYAMLError as err:
        line, col = _position(err.problem_mark)
        raise YamlError(f"YAML syntax error: {err.problem or err.context}", line, col) from None
    except yaml.YAMLError as err:
        raise YamlError(f"YAML error: {err}") from None
    finally:
        loader.dispose()
