"""``import morph3d`` stays light, every module keeps to its layer, and nothing imports in a
circle."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import morph3d

pytestmark = pytest.mark.unit

HEAVY = [
    "torch", "cv2", "pyrender", "OpenGL", "onnxruntime", "scipy", "matplotlib", "trimesh", "numba",
]  # fmt: skip

PACKAGE = Path(morph3d.__file__).parent

#: Layer of each subpackage and top-level module (see morph3d/__init__.py).
LAYERS = {
    "errors": 0,
    "paths": 0,
    "files": 0,
    "progress": 0,
    "timing": 0,
    "_lazy": 0,
    "core": 1,
    "io": 2,
    "inference": 3,
    "detection": 4,
    "training": 4,
    "pipeline": 5,
    "ar": 6,
    "evaluation": 6,
    "cli": 7,
}


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """The morph3d modules a file imports (``from morph3d.x import y`` counts ``morph3d.x.y``
    when that is a module)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("morph3d"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("morph3d"))
    return found


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else -1


def test_import_loads_no_heavy_module() -> None:
    code = (
        "import sys, json, morph3d, morph3d.core, morph3d.io, morph3d.inference, "
        "morph3d.detection, morph3d.pipeline, morph3d.ar, morph3d.core.model, "
        "morph3d.core.metrics, morph3d.io.annotations;"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def test_lazy_names_resolve() -> None:
    assert morph3d.load_model.__module__ == "morph3d.core.model"
    assert morph3d.ParamLayout().size == 62
    for name in morph3d.__all__:
        assert getattr(morph3d, name) is not None
    for package in ("core", "io", "inference", "detection", "training", "pipeline", "ar",
                    "evaluation"):  # fmt: skip
        module = __import__(f"morph3d.{package}", fromlist=["__all__"])
        assert module.__all__, package
        for name in module.__all__:
            assert getattr(module, name) is not None, f"morph3d.{package}.{name}"


def test_every_module_imports_downward() -> None:
    modules = _modules()
    for name, path in modules.items():
        if name == "morph3d":
            continue
        assert name.split(".")[1] in LAYERS, f"give {name} a layer in LAYERS"
        for target in _imports(path, top_level_only=False):
            if target in modules and target != "morph3d":
                assert _layer(target) <= _layer(name), (
                    f"{name} (layer {_layer(name)}) imports {target} (layer {_layer(target)})"
                )


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {
        name: {t for t in _imports(path, top_level_only=True) if t in modules and t != name}
        for name, path in modules.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in graph[node]:
            if state.get(target) == 1:
                cycle = [*trail[trail.index(target) :], target] if target in trail else [target]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


def test_the_top_level_stays_small() -> None:
    loose = [p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"]
    assert len(loose) <= 6, loose


def test_scripts_stay_thin() -> None:
    scripts = [
        *sorted((PACKAGE.parent / "scripts").glob("*.py")),
        PACKAGE.parent / "bfm" / "convert_bfm.py",
    ]
    long = {p.name: n for p in scripts if (n := len(p.read_text().splitlines())) > 200}
    assert not long, f"scripts over 200 lines (move their logic into the package): {long}"
