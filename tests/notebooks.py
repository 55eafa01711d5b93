"""Run a notebook top to bottom with nbclient on this environment's Python (the venv's), with extra
environment variables, and read its outputs by cell tag."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "thermalstream-test"


def execute(notebook: Path, tmp: Path, env: dict[str, str] | None = None, timeout: int = 180):
    """The executed notebook; raises CellExecutionError on the first failing cell."""
    import nbclient
    import nbformat

    spec = tmp / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "thermalstream test", "language": "python"}))
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(tmp / "jupyter"))
    mp.setenv("TMPDIR", str(tmp))
    mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    for key, value in (env or {}).items():
        mp.setenv(key, value)
    try:
        nb = nbformat.read(notebook, as_version=4)
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name=KERNEL,
                                         resources={"metadata": {"path": str(notebook.parent)}})
        client.execute()
    finally:
        mp.undo()
    return nb


def cell(nb, tag: str):
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"no unique cell tagged {tag!r}"
    return found[0]


def text_of(c) -> str:
    parts = []
    for out in c.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append("\n".join(out.traceback))
    return "\n".join(parts)


def rich_mimes(c) -> set[str]:
    return {k for o in c.outputs if o.output_type in ("execute_result", "display_data") for k in o.data}


def errors(nb) -> list:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
