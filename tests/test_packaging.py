"""The wheel: what it holds, what it needs, and that it works outside the checkout.

The end-to-end test builds the wheel from this checkout, installs it without dependencies into
a temporary folder and runs it from another temporary folder with torch, torchvision, onnx, h5py,
scipy and matplotlib made unimportable (the base install has none of them).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from morph3d.core.model import MorphableModel

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())

#: What the base install does not have: importing any of them in the wheel test fails.
NOT_IN_BASE = ("torch", "torchvision", "onnx", "h5py", "scipy", "matplotlib")


def test_package_list_is_complete() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {
        ".".join(path.parent.relative_to(REPO).parts)
        for path in (REPO / "morph3d").rglob("__init__.py")
    }
    assets = {"morph3d.assets"} | {
        f"morph3d.assets.{path.name}" for path in (REPO / "assets").iterdir() if path.is_dir()
    }
    assert listed == found | assets


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()


def test_base_dependencies_exclude_training_and_rendering() -> None:
    base = {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert base.isdisjoint({*NOT_IN_BASE, "pyrender"})
    assert {"numpy", "onnxruntime", "opencv-python"} <= base
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"train", "ar", "dev", "all"} <= set(extras)


def _build_wheel(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "--disable-pip-version-check", "-w", str(folder), str(REPO)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = folder.glob("morph3d-*.whl")
    return wheel


# Run by a fresh interpreter from outside the checkout: the base install's modules only.
_OUTSIDE = """
import json, sys
for name in {blocked!r}:
    sys.modules[name] = None  # import fails with ModuleNotFoundError
import numpy as np
import morph3d
from morph3d.ar import AR
from morph3d.io.image import read_image
from morph3d.pipeline.tracker import Tracker

mesh = morph3d.reconstruct(read_image({photo!r}))
tracker = Tracker()
ar = AR("dog")
try:
    from morph3d.training import Trainer
    refused = ""
except morph3d.Morph3DError as error:
    refused = str(error)
print(json.dumps({{
    "file": morph3d.__file__,
    "vertices": list(mesh.vertices.shape),
    "triangles": len(mesh.faces),
    "finite": bool(np.isfinite(mesh.vertices).all()),
    "eyes": tracker.reconstructor.eyes is not None,
    "effect": ar.effect.name,
    "refused": refused,
    "torch": "torch" in sys.modules and sys.modules["torch"] is not None,
    "network": str(getattr(tracker.reconstructor.predictor.predictor.session, "path", "")),
}}))
"""


@pytest.mark.slow
def test_wheel_works_outside_the_checkout(
    tmp_path: Path, shared_data: Path, real_model: MorphableModel
) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(archive.read("morph3d-0.1.0.dist-info/METADATA").decode())
    shipped = ("models/shufflenetv2_x1_int8.onnx", "models/shufflenetv2_x1_lp_int8.tflite",
               "models/eyes.onnx", "ar/dog.glb")  # fmt: skip
    for asset in shipped:
        assert f"morph3d/assets/{asset}" in names
    assert not any(name.endswith(".pt") for name in names)  # training-only weights stay out
    base = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert base and not {_requirement_name(r) for r in base} & {*NOT_IN_BASE, "pyrender"}

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--disable-pip-version-check",
         "--target", str(site), str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = _OUTSIDE.format(blocked=NOT_IN_BASE, photo=str(shared_data / "photos" / "obama.jpg"))
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(report["file"]).is_relative_to(site)  # the wheel's copy, not the checkout's
    assert report["vertices"] == [real_model.n_surface, 3] and report["finite"]
    assert report["triangles"] == len(real_model.triangles)
    assert report["eyes"] and report["effect"] == "dog"  # the eyelid refiner and the effect
    assert "morph3d[train]" in report["refused"]
    assert not report["torch"]
    if importlib.util.find_spec("ai_edge_litert") is not None:  # the wheel's LiteRT network
        assert Path(report["network"]).is_relative_to(site)
        assert report["network"].endswith(".tflite")
