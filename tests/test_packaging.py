"""Packaging: compatible ranges in pyproject.toml, the exact known-good set in constraints.txt (which
`make` installs), environment.yml made from both, one version source, py.typed, a licence file."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

from scripts.sync_environment import canonical, pins

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]
DIRECT = [Requirement(s) for s in PROJECT["dependencies"] + EXTRAS["yolo"] + EXTRAS["dev"] + EXTRAS["ray"]]


def test_metadata_uses_ranges_and_constraints_pin_a_version_inside_each():
    exact = pins()
    for req in DIRECT:
        assert not any(sp.operator == "==" for sp in req.specifier), f"{req}: exact pins go in constraints.txt"
        assert canonical(req.name) in exact, f"{req.name} is missing from constraints.txt (run make constraints)"
        assert req.specifier.contains(exact[canonical(req.name)], prereleases=True), (req, exact[canonical(req.name)])


def test_constraints_match_what_is_installed():
    """The venv `make` built is the one constraints.txt describes (no package drifted)."""
    from importlib.metadata import version

    for req in DIRECT:
        assert version(req.name) == pins()[canonical(req.name)], req.name


def test_heavy_detection_stack_is_an_extra():
    core = {canonical(Requirement(s).name) for s in PROJECT["dependencies"]}
    assert not core & {"torch", "torchvision", "ultralytics", "openvino", "onnxruntime", "ray"}
    assert {"ultralytics", "torch"} <= {canonical(Requirement(s).name) for s in EXTRAS["yolo"]}


def test_environment_yml_matches_constraints():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    exact = pins()
    assert sorted(listed) == sorted(f"{r.name}{'[' + ','.join(sorted(r.extras)) + ']' if r.extras else ''}"
                                    f"=={exact[canonical(r.name)]}" for r in DIRECT)
    assert "python=3.11" in env["dependencies"]


def test_one_version_source_typed_licensed_and_runnable_as_module():
    from importlib.metadata import version

    import thermalstream

    assert PROJECT["dynamic"] == ["version"] and "version" not in PROJECT
    assert version("thermalstream") == thermalstream.__version__
    assert (ROOT / "thermalstream" / "py.typed").is_file()
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]
    out = subprocess.run([sys.executable, "-m", "thermalstream", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "export" in out.stdout


def test_without_the_yolo_extra_the_detector_says_what_to_install(tmp_path):
    """A notebook environment without ultralytics: YOLO reports 'unavailable' with the pip command."""
    code = f"""
import sys
sys.modules["ultralytics"] = None  # as if the yolo extra were not installed
from pathlib import Path
from thermalstream.config import Settings
from thermalstream.detect.yolo import YoloDetector
det = YoloDetector(Path({str(tmp_path / 'w.pt')!r}), settings=Settings(data_dir={str(tmp_path)!r}))
st = det.load()
print(st.state, "|", st.message)
"""
    (tmp_path / "w.pt").write_bytes(b"not used")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("unavailable |") and "thermalstream[yolo]" in out.stdout, out.stdout


def _imported_modules(path: Path) -> set[str]:
    """Top-level modules a file imports, leaving out imports guarded by ``except ImportError``."""
    import ast

    tree = ast.parse(path.read_text(), str(path))
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in {"ImportError", "ModuleNotFoundError"} for h in node.handlers
        ):
            guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _declared_closure() -> set[str]:
    """Distributions the declared requirements (all extras `make` installs) bring in, transitively."""
    from importlib.metadata import PackageNotFoundError, requires

    seen: set[str] = set()
    todo = [(r, frozenset(r.extras)) for r in DIRECT]
    while todo:
        req, extras = todo.pop()
        name = canonical(req.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            subs = [Requirement(s) for s in requires(req.name) or []]
        except PackageNotFoundError:
            continue
        for sub in subs:
            envs = [{"extra": e} for e in extras] or [{"extra": ""}]
            if sub.marker is None or any(sub.marker.evaluate(env) for env in envs):
                todo.append((sub, frozenset(sub.extras)))
    return {name for name, _ in seen}


def test_every_imported_package_is_declared():
    """A clean machine installs only what pyproject declares: an import that works here only because a
    package was installed by hand (imagecodecs once) must fail this test, not CI's collection."""
    from importlib.metadata import packages_distributions

    local = {"thermalstream", "app", "tests", "scripts", "bench", "conftest"}
    for d in ("tests", "bench", "scripts", "app"):
        local |= {p.stem for p in (ROOT / d).rglob("*.py")}
    owners = packages_distributions()
    declared = _declared_closure()
    missing = {}
    for d in ("thermalstream", "app", "tests", "bench", "scripts"):
        for path in (ROOT / d).rglob("*.py"):
            for mod in _imported_modules(path) - set(sys.stdlib_module_names) - local:
                dists = {canonical(x) for x in owners.get(mod, [])}
                if not dists & declared:
                    missing.setdefault(mod, []).append(str(path.relative_to(ROOT)))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
