"""Build the lesson notebooks from their sources: ``python notebooks/build.py``.

Each lesson is written as a plain Python file in ``notebooks/src/`` in the
"percent" format (cells start with ``# %%``; ``# %% [markdown]`` cells are
comment lines; ``# %% [solution]`` cells are code hidden by default, the
worked answer of an exercise). Sources diff and review like code; the
``.ipynb`` files are built from them, without outputs, and a test checks
that the committed notebooks are what this script makes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def _cell(kind: str, lines: list[str]) -> nbformat.NotebookNode:
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    if kind == "markdown":
        text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines)
        return new_markdown_cell(text)
    cell = new_code_cell("\n".join(lines))
    if kind == "solution":
        cell.metadata["jupyter"] = {"source_hidden": True}
        cell.metadata["tags"] = ["solution"]
    return cell


def notebook(source: Path) -> nbformat.NotebookNode:
    """The notebook of one source file."""
    cells = []
    kind, lines = "", []
    for line in source.read_text().splitlines():
        if line.startswith("# %%"):
            if kind:
                cells.append(_cell(kind, lines))
            tag = line.removeprefix("# %%").strip()
            kind = {"[markdown]": "markdown", "[solution]": "solution", "": "code"}[tag]
            lines = []
        else:
            lines.append(line)
    if kind:
        cells.append(_cell(kind, lines))
    book = new_notebook(cells=cells)
    book.metadata["kernelspec"] = KERNEL
    book.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(book.cells):
        cell["id"] = f"{source.stem[:2]}-{index:02d}"  # stable ids: rebuilding changes nothing
    return book


def text(source: Path) -> str:
    return nbformat.writes(notebook(source)) + "\n"


def main() -> int:
    for source in sorted(SOURCES.glob("*.py")):
        target = HERE / f"{source.stem}.ipynb"
        target.write_text(text(source))
        print(f"wrote {target.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
