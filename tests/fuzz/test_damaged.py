"""Damaged scenario files: a fixed corpus of hostile texts and files, and
generated damage (truncation, inserted characters and bytes, deleted and
repeated spans) of every bundled scenario, validated in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.common import SCENARIOS, check_outcome, fuzz_settings

CASES = 80  # about 10 s on one core
GOOD = SCENARIOS[0].read_text()
BOMB = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
)
CORPUS: dict[str, bytes] = {
    "empty": b"",
    "comment only": b"# nothing\n",
    "null": b"~\n",
    "a list": b"- 1\n- 2\n",
    "a scalar": b"just text\n",
    "nul": GOOD.replace("name:", "na\x00me:").encode(),
    "bell": GOOD.replace("name:", "name: \x07").encode(),
    "escape": b"\x1b[31m" + GOOD.encode(),
    "invalid utf-8": GOOD.encode() + b"\xff\xfe\n",
    "utf-16": GOOD.encode("utf-16"),
    "bom": b"\xef\xbb\xbf" + GOOD.encode(),
    "deep flow": b"x: " + b"[" * 5000 + b"]" * 5000 + b"\n" + GOOD.encode(),
    "deep block": "".join(f"{'  ' * i}k{i}:\n" for i in range(400)).encode() + b"  " * 400 + b"1\n",
    "recursive alias": b"a: &x [*x]\n" + GOOD.encode(),
    "recursive merge": b"a: &x {<<: *x}\n" + GOOD.encode(),
    "alias bomb": BOMB.encode(),
    "unknown alias": GOOD.replace("name: algorithms", "name: *nowhere").encode(),
    "python tag": GOOD.replace("seed: 1", "seed: !!python/object/apply:os.system [ls]").encode(),
    "custom tag": GOOD.replace("seed: 1", "seed: !mine 1").encode(),
    "binary": GOOD.replace("seed: 1", "seed: !!binary aGk=").encode(),
    "set": GOOD.replace("seed: 1", "seed: !!set {a}").encode(),
    "omap": GOOD.replace("seed: 1", "seed: !!omap [a: 1]").encode(),
    "digits": GOOD.replace("seed: 1", "seed: " + "9" * 5000).encode(),
    "float overflow": GOOD.replace("duration: 20m", "duration: 1e999s").encode(),
    "two documents": (GOOD + "---\n" + GOOD).encode(),
    "complex key": b"? [a, b]\n: 1\n" + GOOD.encode(),
    "duplicate key": (GOOD + "seed: 2\n").encode(),
    "tabs": GOOD.replace("  count", "\tcount").encode(),
    "over 1 MB": (GOOD + "#" * 1_100_000 + "\n").encode(),
    "long line": (GOOD + "x: " + "a" * 900_000 + "\n").encode(),
    "many keys": (GOOD + "".join(f"k{i}: {i}\n" for i in range(30_000))).encode(),
    "truncated": GOOD.encode()[: len(GOOD) // 2],
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_damaged_corpus(tmp_path: Path, name: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(CORPUS[name])
    assert check_outcome(path) == (0 if name in ("bom",) else 2)


def test_special_files_are_refused_by_type(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    for path in (fifo, link, Path("/dev/zero"), Path("/dev/null"), tmp_path):
        assert check_outcome(path) == 2, path


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SCENARIOS)).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["cut", "insert", "delete", "repeat", "byte"]))
        if kind == "cut":
            del data[at:]
        elif kind == "insert":
            token = draw(
                st.sampled_from(
                    [
                        "\x00",
                        "\x07",
                        "\t",
                        "[",
                        "{",
                        "]",
                        ":",
                        ": ",
                        "&a ",
                        "*a",
                        "!!",
                        "<<: ",
                        "\ufeff",
                        '"',
                        "'",
                        "\n  - ",
                        "\n",
                        "#",
                        "- ",
                        "? ",
                        "|",
                        ">",
                        "%YAML 1.1\n",
                    ]
                )
            )
            data[at:at] = token.encode()
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 80))] * draw(st.integers(2, 50))
        else:
            data[at:at] = bytes([draw(st.integers(0, 255))])
    return bytes(data)


@fuzz_settings(CASES)
@given(text=damaged())
def test_damaged_scenarios_exit_0_or_2_with_a_located_message(
    tmp_path_factory: pytest.TempPathFactory, text: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "damaged.yaml"
    path.write_bytes(text)
    check_outcome(path)
