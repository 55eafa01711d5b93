"""Write environment.yml from pyproject.toml's pinned dependencies (tests/test_packaging.py checks they agree)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
pins = project["dependencies"] + project["optional-dependencies"]["dev"]
lines = [
    "# Conda environment with the same pinned dependencies as pyproject.toml (made by scripts/sync_environment.py).",
    "#   conda env create -f environment.yml && conda activate thermalstream && pip install -e . --no-deps",
    "name: thermalstream",
    "channels:",
    "  - conda-forge",
    "dependencies:",
    "  - python=3.11",
    "  - pip",
    "  - pip:",
    *[f"      - {p}" for p in pins],
]
(ROOT / "environment.yml").write_text("\n".join(lines) + "\n")
