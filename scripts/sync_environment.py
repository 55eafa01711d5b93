"""Write environment.yml: the direct dependencies of pyproject.toml (core, yolo, dev and ray extras) at the
exact versions of constraints.txt (tests/test_packaging.py checks the three agree)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def direct_names() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    specs = project["dependencies"] + extras["yolo"] + extras["dev"] + extras["ray"]
    return [re.match(r"[A-Za-z0-9_.\-]+(\[[^\]]*\])?", s).group(0) for s in specs]  # names with extras


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            out[canonical(name)] = version.strip()
    return out


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


if __name__ == "__main__":
    exact = pins()
    lines = [
        "# Conda environment with the exact versions of constraints.txt (made by scripts/sync_environment.py).",
        "#   conda env create -f environment.yml && conda activate thermalstream && pip install -e . --no-deps",
        "name: thermalstream",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
        *[f"      - {n}=={exact[canonical(n)]}" for n in direct_names()],
    ]
    (ROOT / "environment.yml").write_text("\n".join(lines) + "\n")
