"""``import morph3d`` stays light, and modules respect the package's layers."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import morph3d

HEAVY = ["torch", "cv2", "pyrender", "OpenGL", "onnxruntime", "scipy", "matplotlib", "trimesh"]

PACKAGE = Path(morph3d.__file__).parent

# Layer of every module (see morph3d/__init__.py). A module may import its own layer or lower.
LAYERS = {
    "errors": 0,
    "paths": 0,
    "annotations": 0,
    "_array": 0,
    "files": 0,
    "progress": 0,
    "params": 1,
    "pose": 1,
    "crop": 1,
    "mesh": 1,
    "model": 1,
    "decoder": 1,
    "losses": 1,
    "metrics": 1,
    "marching": 1,
    "fitting": 1,
    "filters": 1,
    "draw": 2,
    "image": 2,
    "datasets": 2,
    "targets": 2,
    "network": 2,
    "augment": 2,
    "training": 2,
    "predict": 2,
    "evaluation": 2,
    "plots": 2,
    "onnx_export": 2,
    "runtime": 2,
    "effects": 2,
    "eyes": 2,
    "video": 2,
    "synthetic": 2,
    "detect": 3,
    "cli": 5,
    "render": 5,
    "api": 4,
    "bench": 4,
    "tracker": 4,
}


def test_import_loads_no_heavy_module() -> None:
    code = (
        "import sys, json, morph3d, morph3d.core.model, morph3d.core.metrics, morph3d.io.annotations;"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def test_lazy_names_resolve() -> None:
    assert morph3d.load_model.__module__ == "morph3d.core.model"
    assert morph3d.ParamLayout().size == 62


def test_every_module_has_a_layer_and_imports_downward() -> None:
    modules = {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    assert modules <= set(LAYERS), f"add {modules - set(LAYERS)} to LAYERS"
    for name in modules:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("morph3d.")
            ):
                target = node.module.split(".")[1]
                assert LAYERS[target] <= LAYERS[name], (
                    f"{name} (layer {LAYERS[name]}) imports {target}"
                )
