"""Remove outputs, execution counts and editor-only metadata from notebooks before they are committed."""

from __future__ import annotations

from pathlib import Path

import nbformat

# What a committed notebook keeps at the top level: the kernel it runs in, nothing of the session.
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")
KEPT_LANGUAGE_INFO = ("name",)
# Cell metadata that carries meaning (nbgrader's, and the locks nbgrader sets); the rest is editor state.
KEPT_CELL_METADATA = ("nbgrader", "deletable", "editable", "tags")


def strip_notebook(path: Path) -> bool:
    """Strip one notebook in place; return whether it changed."""
    before = Path(path).read_text(encoding="utf-8")
    nb = nbformat.reads(before, as_version=4)
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEPT_NOTEBOOK_METADATA}
    if "language_info" in nb.metadata:
        nb.metadata["language_info"] = {
            k: v for k, v in nb.metadata["language_info"].items() if k in KEPT_LANGUAGE_INFO
        }
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEPT_CELL_METADATA}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    after = nbformat.writes(nb) + "\n"
    if after != before:
        Path(path).write_text(after, encoding="utf-8")
    return after != before
