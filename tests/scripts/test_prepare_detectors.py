"""scripts/prepare_detectors.py: the cached Ultra-Light graphs compute what the shared ones do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from ..conftest import load_script

prepare_detectors = load_script("scripts/prepare_detectors.py")


def _run(model: onnx.ModelProto, image: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: image})


def test_prepared_detectors_give_the_same_outputs(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "detectors"
    assert prepare_detectors.main(["--source", str(source), "--out", str(tmp_path)]) == 0
    image = np.random.default_rng(0).uniform(-1, 1, (1, 3, 240, 320)).astype(np.float32)
    for name in ("version-RFB-320.onnx", "version-slim-320.onnx"):
        original, prepared = onnx.load(str(source / name)), onnx.load(str(tmp_path / name))
        weights = {item.name for item in prepared.graph.initializer}
        assert not weights & {item.name for item in prepared.graph.input}
        assert weights <= {name for node in prepared.graph.node for name in node.input}
        for a, b in zip(_run(original, image), _run(prepared, image), strict=True):
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    # A second run finds the folder up to date and leaves it alone.
    stamp = (tmp_path / "SOURCES").stat().st_mtime_ns
    assert prepare_detectors.main(["--source", str(source), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "SOURCES").stat().st_mtime_ns == stamp
