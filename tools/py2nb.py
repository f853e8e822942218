"""Convert between a percent-format script and a course notebook.

    python tools/py2nb.py notebooks/src.py notebooks/01_x.ipynb   # script -> notebook
    python tools/py2nb.py --reverse notebooks/01_x.ipynb out.py   # notebook -> script

Cells start with ``# %%`` (code) or ``# %% [markdown]`` (markdown, every line
prefixed with ``# ``). Tags: ``# %% tags=["parameters"]``. The notebook is
written without outputs, with the python3 kernelspec papermill needs.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def script_to_notebook(text: str) -> nbformat.NotebookNode:
    cells, kind, tags, lines = [], None, [], []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            cell = nbformat.v4.new_markdown_cell(body)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)

    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            flush()
            kind = "markdown" if match.group("md") else "code"
            tags = json.loads(match.group("tags")) if match.group("tags") else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:02d}"
    return nb


def notebook_to_script(nb) -> str:
    out = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        tag_text = f" tags={json.dumps(tags)}" if tags else ""
        if cell.cell_type == "markdown":
            out.append(f"# %% [markdown]{tag_text}")
            out.extend(("# " + line).rstrip() for line in cell.source.splitlines())
        else:
            out.append(f"# %%{tag_text}")
            out.append(cell.source)
        out.append("")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--reverse":
        src, dst = argv[1:3]
        Path(dst).write_text(notebook_to_script(nbformat.read(src, as_version=4)))
    else:
        src, dst = argv[:2]
        nbformat.write(script_to_notebook(Path(src).read_text()), dst)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
